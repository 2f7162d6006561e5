#!/usr/bin/env bash
# Side-by-side speed: `astro bench` vs pyswisseph on the same cases, same run.
# Usage (from the repository root): bash crates/astro/bench/speed_ratio.sh [seconds]
# Needs: a release build of the astro binary and `pip install pyswisseph` (comparison only).
set -euo pipefail
secs="${1:-5}"
here="$(cd "$(dirname "$0")" && pwd)"
target="${CARGO_TARGET_DIR:-$here/../../../target}"
cargo build --quiet --release -p astro --bin astro
ours=$("$target/release/astro" bench --seconds "$secs")
theirs=$(python3 "$here/swe_bench.py" --seconds "$secs")
echo "$ours"
echo "$theirs"
a=$(echo "$ours" | sed -E 's/.* ([0-9]+) charts\/s.*/\1/')
b=$(echo "$theirs" | sed -E 's/.* ([0-9]+) charts\/s.*/\1/')
python3 -c "print(f'ratio astro / pyswisseph = {$a / $b:.2f}x  ({$a} vs {$b} charts/s)')"
