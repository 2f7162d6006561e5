#!/usr/bin/env python3
"""Time the Swiss Ephemeris (pyswisseph, Moshier) on the same full-chart work
as `astro bench`, for a side-by-side speed comparison only.

pyswisseph is AGPL: it is NOT a dependency of the project; install it in a
scratch environment (`pip install pyswisseph`) to run this script.

A "full chart" here = calc_ut for Sun..Saturn, mean node and true node
(FLG_MOSEPH | FLG_SIDEREAL | FLG_SPEED, Lahiri), houses_ex Placidus (gives the
ascendant and MC) and whole sign, the true ayanamsa, and the same trivial
arithmetic for signs, nakshatras, dasha balance and tithi.

Usage: python3 swe_bench.py [--n 2000] [--seconds 3]
Prints one line ending in "<N> charts/s".
"""
import argparse
import math
import time

import swisseph as swe


def cases(n):
    """Same xorshift sequence as `astro bench` (1900-2050, |lat| <= 60)."""
    s = 0x9E3779B97F4A7C15
    mask = (1 << 64) - 1

    def nxt():
        nonlocal s
        s ^= (s << 13) & mask
        s ^= s >> 7
        s ^= (s << 17) & mask
        return (s >> 11) / float(1 << 53)

    a, b = 2415020.5, 2469807.5
    out = []
    for _ in range(n):
        jd = a + (b - a) * nxt()
        lat = -60.0 + 120.0 * nxt()
        lon = -180.0 + 360.0 * nxt()
        out.append((jd, lat, lon))
    return out


BODIES = [swe.SUN, swe.MOON, swe.MERCURY, swe.VENUS, swe.MARS, swe.JUPITER, swe.SATURN,
          swe.MEAN_NODE, swe.TRUE_NODE]
FLAGS = swe.FLG_MOSEPH | swe.FLG_SIDEREAL | swe.FLG_SPEED
YEARS = [7, 20, 6, 10, 7, 18, 16, 19, 17]


def chart(jd, lat, lon):
    lons = []
    for b in BODIES:
        xx, _ = swe.calc_ut(jd, b, FLAGS)
        lons.append(xx[0])
    cusps, ascmc = swe.houses_ex(jd, lat, lon, b'P', swe.FLG_SIDEREAL)
    ws, _ = swe.houses_ex(jd, lat, lon, b'W', swe.FLG_SIDEREAL)
    ayan = swe.get_ayanamsa_ex_ut(jd, swe.FLG_MOSEPH)[1]
    signs = [int(x // 30) for x in lons]
    naks = [int(x * 108 / 360) for x in lons + [ascmc[0]]]
    x = lons[1] * 27 / 360
    nak = math.floor(x)
    bal = (1 - (x - nak)) * YEARS[nak % 9]
    tithi = int(((lons[1] - lons[0]) % 360) // 12) + 1
    return signs, naks, bal, tithi, cusps, ws, ayan


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--seconds", type=float, default=3.0)
    o = ap.parse_args()
    swe.set_ephe_path(None)
    swe.set_sid_mode(swe.SIDM_LAHIRI, 0, 0)
    cs = cases(o.n)
    for c in cs[:100]:
        chart(*c)
    count = 0
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < o.seconds:
        for c in cs:
            chart(*c)
        count += len(cs)
    el = time.perf_counter() - t0
    print(f"pyswisseph {swe.version} (Moshier): {count} full charts in {el:.3f} s on one thread: "
          f"{count / el:.0f} charts/s")


if __name__ == "__main__":
    main()
