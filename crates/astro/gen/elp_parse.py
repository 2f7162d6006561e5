"""Parser for the ELP/MPP02 (corr=1, DE405 fit) and IAU 2000B nutation tables
shipped in the `stem-branch` crate 0.8.0 (Apache-2.0)."""
import glob
import os
import re


def crate_dir():
    pats = glob.glob(os.path.expanduser("~/.cargo/registry/src/*/stem-branch-0.8.0/src"))
    if not pats:
        raise SystemExit("stem-branch 0.8.0 not in ~/.cargo/registry: run `cargo fetch` in a project depending on stem-branch = \"=0.8.0\"")
    return pats[0]


def parse_tables(fname):
    src = open(os.path.join(crate_dir(), fname)).read()
    out = {}
    for m in re.finditer(r"pub static (\w+): &\[\[f64; (\d+)\]\] = &\[(.*?)\n\];", src, re.S):
        rows = re.findall(r"\[([^\[\]]+)\]", m.group(3))
        out[m.group(1)] = [[float(v) for v in r.split(",") if v.strip()] for r in rows]
    return out
