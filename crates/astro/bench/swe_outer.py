#!/usr/bin/env python3
"""Validate the optional outer planets (Uranus, Neptune, Pluto) against
pyswisseph (Moshier, Lahiri sidereal), as bench/swe_reference.py does for the
grahas. Validation only: pyswisseph (AGPL) is never a dependency.

Usage (from this directory, release binary built):
    python3 swe_outer.py gen N [SEED] > outer_ref.jsonl       # random instants 1900-2050
    $CARGO_TARGET_DIR/release/astro batch --outer < outer_ref.jsonl > outer_cand.jsonl
    python3 swe_outer.py compare outer_ref.jsonl outer_cand.jsonl
(default target dir: ../../../target.) `compare` prints max / p99 /
mean absolute error of longitude and latitude (arcseconds) and speed
(arcseconds/day) per body, and counts sign/nakshatra/retrograde mismatches.
"""
import datetime
import json
import math
import random
import sys

BODIES = ("uranus", "neptune", "pluto")


def gen(n, seed):
    import swisseph as swe

    swe.set_ephe_path(None)
    swe.set_sid_mode(swe.SIDM_LAHIRI, 0, 0)
    flags = swe.FLG_MOSEPH | swe.FLG_SIDEREAL | swe.FLG_SPEED
    ids = {"uranus": swe.URANUS, "neptune": swe.NEPTUNE, "pluto": swe.PLUTO}
    random.seed(seed)
    a = datetime.datetime(1900, 1, 1, tzinfo=datetime.timezone.utc).timestamp()
    b = datetime.datetime(2050, 12, 31, tzinfo=datetime.timezone.utc).timestamp()
    for i in range(n):
        ts = int(random.uniform(a, b))
        lat = round(random.uniform(-60, 60), 6)
        lon = round(random.uniform(-180, 180), 6)
        jd = 2440587.5 + ts / 86400
        g = {}
        for k, body in ids.items():
            xx, _ = swe.calc_ut(jd, body, flags)
            g[k] = {"lon": xx[0], "lat": xx[1], "speed": xx[3], "sign": int(xx[0] // 30),
                    "nakshatra": int(xx[0] * 27 / 360), "retrograde": xx[3] < 0}
        utc = datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        print(json.dumps({"id": i, "utc": utc, "jd_ut": jd, "lat": lat, "lon": lon, "grahas": g}))


def p99(xs):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(math.ceil(0.99 * len(xs))) - 1)] if xs else float("nan")


def compare(ref_path, cand_path):
    ref = {r["id"]: r for r in map(json.loads, open(ref_path))}
    cand = {r["id"]: r for r in map(json.loads, open(cand_path))}
    failed = False
    for body in BODIES:
        errs = {"lon": [], "lat": [], "speed": []}
        worst = (0.0, None)
        mism = {"sign": 0, "nakshatra": 0, "retrograde": 0}
        missing = 0
        for i, r in ref.items():
            c = cand.get(i, {}).get("grahas", {}).get(body)
            if c is None:
                missing += 1
                continue
            s = r["grahas"][body]
            d = ((c["lon"] - s["lon"] + 180.0) % 360.0 - 180.0) * 3600.0
            errs["lon"].append(abs(d))
            errs["lat"].append(abs(c["lat"] - s["lat"]) * 3600.0)
            errs["speed"].append(abs(c["speed"] - s["speed"]) * 3600.0)
            if abs(d) > worst[0]:
                worst = (abs(d), r["utc"])
            for k in mism:
                if c[k] != s[k]:
                    mism[k] += 1
        n = len(errs["lon"])
        if n == 0:
            print(f"{body}: no candidate values")
            failed = True
            continue
        print(f"{body}: n={n} missing={missing}")
        for k, unit in (("lon", '"'), ("lat", '"'), ("speed", '"/day')):
            e = errs[k]
            print(f"  {k:<6} max {max(e):7.3f}{unit}  p99 {p99(e):7.3f}{unit}  mean {sum(e) / n:7.3f}{unit}")
        print(f"  worst longitude at {worst[1]}; mismatches {mism}")
    return 1 if failed else 0


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "gen":
        gen(int(sys.argv[2]), int(sys.argv[3]) if len(sys.argv) > 3 else 11)
        return 0
    if len(sys.argv) == 4 and sys.argv[1] == "compare":
        return compare(sys.argv[2], sys.argv[3])
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main())
