# Recipes a person runs; ./dev.sh installs what they need first, and CI
# (.ci/run) runs the same ones.

services := "gateway charts pricing guidance media monitor social"
db_url := env_var_or_default("JYOTIFLOW__DATABASE__URL", "postgres://postgres@127.0.0.1:5432/jyotiflow")

default:
    @just --list

# Full test suite against real PostgreSQL and real NATS servers. Services
# refuse development secrets unless the environment says development or
# test; the tests set it themselves, and so does this recipe.
# One build; then the API contract run (real processes, mostly waiting on
# I/O) runs beside the test binaries, and its report is printed at the end.
test *args:
    #!/usr/bin/env bash
    set -uo pipefail
    export JYOTIFLOW__ENV=test
    python3 -c 'import schemathesis' 2>/dev/null || python3 -m pip install -q 'schemathesis==4.32.5'
    cargo test --workspace --no-run {{args}} || exit 1
    cargo build --workspace --bins || exit 1
    mkdir -p .local
    python3 tests/contract/contract.py > .local/contract.log 2>&1 &
    contract=$!
    status=0
    # cargo-nextest runs the tests of every binary side by side (most wait on
    # PostgreSQL, NATS and spawned services more than they compute; see
    # .config/nextest.toml), then the doc tests; plain cargo test without it.
    if cargo nextest --version >/dev/null 2>&1; then
      cargo nextest run --workspace {{args}} || status=1
      cargo test --workspace --doc {{args}} || status=1
    else
      cargo test --workspace --no-fail-fast {{args}} || status=1
    fi
    wait "$contract" || status=1
    echo "---- API contract (tests/contract/contract.py) ----"
    cat .local/contract.log
    exit $status

# The API contract: Schemathesis against every service through the gateway
# (tests/contract/contract.py; a fixed seed and a bounded number of examples).
contract *args:
    python3 -c 'import schemathesis' 2>/dev/null || python3 -m pip install -q 'schemathesis==4.32.5'
    cargo build --workspace --bins
    python3 tests/contract/contract.py {{args}}

# Formatting and lints exactly as CI checks them.
lint:
    cargo fmt --all --check
    cargo clippy --workspace --all-targets -- -D warnings

# Build, migrate and start every service in the background (logs in .local/logs).
up: build
    #!/usr/bin/env bash
    set -euo pipefail
    mkdir -p .local/logs .local/pids
    db=$(basename "{{db_url}}")
    if ! psql "$(dirname "{{db_url}}")/postgres" -Atqc "select 1 from pg_database where datname='$db'" | grep -q 1; then
      psql "$(dirname "{{db_url}}")/postgres" -qc "create database \"$db\""
    fi
    export JYOTIFLOW__DATABASE__URL="{{db_url}}"
    # Local development: the built-in development keys and secrets are
    # accepted only because this says so (the default is production).
    export JYOTIFLOW__ENV="${JYOTIFLOW__ENV:-development}"
    for s in {{services}}; do
      ./target/release/$s migrate
    done
    # guidance's knowledge corpus (idempotent: unchanged entries are skipped)
    ./target/release/guidance seed
    for s in {{services}}; do
      if [ -f .local/pids/$s ] && kill -0 "$(cat .local/pids/$s)" 2>/dev/null; then
        echo "$s already running (pid $(cat .local/pids/$s))"; continue
      fi
      nohup ./target/release/$s serve >.local/logs/$s.log 2>&1 &
      echo $! > .local/pids/$s
    done
    for s in {{services}}; do
      for _ in $(seq 1 50); do ./target/release/$s healthcheck && break; sleep 0.2; done
      ./target/release/$s healthcheck && echo "$s ready" || { echo "$s did not become ready; see .local/logs/$s.log"; exit 1; }
    done
    echo "gateway: http://127.0.0.1:8080  (try: curl http://127.0.0.1:8080/readyz)"
    echo "charts 8081, pricing 8082, guidance 8083, media 8084, monitor 8085, social 8086 (reach them through the gateway under /api/v1/...)"
    echo "platform status: curl http://127.0.0.1:8080/api/v1/status (admins: /api/v1/admin/monitor/overview)"
    echo "guidance's local model as an OpenAI-compatible API: http://127.0.0.1:8093/v1 (not routed by the gateway)"

# Stop what `up` started.
down:
    #!/usr/bin/env bash
    for f in .local/pids/*; do
      [ -f "$f" ] || continue
      kill "$(cat "$f")" 2>/dev/null && echo "stopped $(basename "$f")"
      rm -f "$f"
    done

build:
    cargo build --release --bins

# Gateway benchmark: authenticated GET through the gateway vs the upstream directly, and login throughput.
bench-gateway *args:
    JYOTIFLOW__ENV=development cargo run --release -p gateway --example gateway_bench -- {{args}}

# Charts: cache hits direct and through the gateway, cold misses, pgbench on the lookup SELECT.
bench-charts *args:
    JYOTIFLOW__ENV=development cargo run --release -p charts --example charts_bench -- {{args}}

# Pricing: hold+capture pairs over NATS and HTTP, pgbench on the same SQL transaction.
bench-pricing *args:
    JYOTIFLOW__ENV=development cargo run --release -p pricing --example pricing_bench -- {{args}}

# Guidance: embedding throughput, recall@5/MRR and retrieval p50/p99 at the
# corpus size; the local model's prompt and generated tokens/s side by side
# with llama.cpp (llama-cpp-python, built from source the first time) on the
# same GGUF; time to first token through the gateway with 4 concurrent
# conversations and the faithfulness check's correction rate.
bench-guidance *args:
    services/guidance/scripts/install-model.sh
    python3 -c 'import llama_cpp' 2>/dev/null || python3 -m pip install -q llama-cpp-python
    JYOTIFLOW__ENV=development cargo run -q --release -p guidance --example knowledge_bench
    JYOTIFLOW__ENV=development cargo run -q --release -p guidance --example guidance_llm_bench -- {{args}}
    JYOTIFLOW__ENV=development cargo run -q --release -p guidance --example guidance_e2e_bench -- 4 3 64

# Media: Agora tokens per second, our builder beside Agora's npm package
# `agora-token` run by Node in the same run (installed under .local/node);
# live billing with 1,000 open sessions; avatar voice job latency.
bench-media seconds="2" sessions="1000":
    test -d .local/node/node_modules/agora-token || npm install --silent --no-audit --no-fund --prefix .local/node agora-token@2.0.6
    cargo run -q --release -p agora --example agora_bench -- {{seconds}} .local/node/node_modules
    JYOTIFLOW__ENV=development cargo run -q --release -p media --example live_bench -- {{sessions}} 20
    JYOTIFLOW__ENV=development cargo run -q --release -p media --example avatar_bench -- 20

# Monitor: its cost (CPU, database transactions/s) at 6 services x 3
# instances, without and with it in the same run, and the time from a fault
# to its incident; on its own database and nats-server (args: seconds per phase).
bench-monitor *args:
    JYOTIFLOW__ENV=development cargo run -q --release -p monitor --example monitor_bench -- {{args}}

# Astro engine: charts per second, ours vs pyswisseph side by side (installs pyswisseph for the comparison only).
bench-astro seconds="5":
    python3 -c 'import swisseph' 2>/dev/null || python3 -m pip install -q pyswisseph
    bash crates/astro/bench/speed_ratio.sh {{seconds}}

# Social: image cards rendered per second per kind and size on one core, and
# where one render's time goes (args: seconds per kind and size).
bench-social seconds="5":
    cargo run -q --release -p social --example cards_bench -- {{seconds}}
