"""Shared parser for the VSOP87A tables of the `vsop87` crate (MIT/Apache-2.0)."""
import glob
import os
import re

BODIES = ["mercury", "venus", "earth", "mars", "jupiter", "saturn", "uranus", "neptune"]


def crate_dir():
    pats = glob.glob(os.path.expanduser("~/.cargo/registry/src/*/vsop87-3.0.0/src/vsop87a"))
    if not pats:
        raise SystemExit("vsop87 3.0.0 not in ~/.cargo/registry: run `cargo fetch` in a project depending on vsop87 = \"=3.0.0\"")
    return pats[0]


def parse_body(name):
    src = open(os.path.join(crate_dir(), name + ".rs")).read()
    out = {}
    for m in re.finditer(r"const ([XYZ])(\d): \[\[f64; (\d+)\]; 3\] = \[(.*?)\];\n", src, re.S):
        coord, power, n = m.group(1), int(m.group(2)), int(m.group(3))
        rows = re.findall(r"\[([^\[\]]*)\]", m.group(4))
        cols = [[_num(v) for v in r.replace("\n", " ").split(",") if v.strip()] for r in rows]
        assert len(cols) == 3 and all(len(c) == n for c in cols), (name, coord, power)
        out[(coord, power)] = list(zip(*cols))
    return out


def _num(v):
    v = v.strip()
    if v == "PI":
        import math
        return math.pi
    return float(v)
