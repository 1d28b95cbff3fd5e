"""Offline postcode → place lookup, from the GeoNames postal data we ship.

The table (data/fr_postcodes.csv.gz, ~20,800 postcodes, ~52,000 rows) has one
row per commune served by a postcode; coordinates are the commune's (or, in
Paris, Lyon and Marseille, the arrondissement's), never an address's.
See geo/DATA.md for source, licence and how to rebuild it.
"""
from __future__ import annotations

import csv
import gzip
import io
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from .departements import departement_for_postcode

_DATA_FILE = "fr_postcodes.csv.gz"

# A postcode inside free text: 5 digits not glued to other digits
# ("12 rue X 75011 Paris", "F-69001", "75011Paris" all match 75011).
_POSTCODE_IN_TEXT = re.compile(r"(?<![0-9])[0-9]{5}(?![0-9])")


@dataclass(frozen=True)
class Place:
    postcode: str
    city: str
    departement_code: str
    lat: float
    lon: float


@cache
def _table() -> dict[str, tuple[Place, ...]]:
    # Loaded once, on first use (~0.1 s), so importing the package stays cheap.
    raw = resources.files("umpnet_geo").joinpath("data", _DATA_FILE).read_bytes()
    table: dict[str, list[Place]] = {}
    with io.TextIOWrapper(gzip.GzipFile(fileobj=io.BytesIO(raw)), encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            code = row["postcode"]
            dep = departement_for_postcode(code)
            if dep is None:  # the build script filters these; be defensive
                continue
            table.setdefault(code, []).append(
                Place(code, row["city"], dep, float(row["lat"]), float(row["lon"]))
            )
    return {code: tuple(places) for code, places in table.items()}


def lookup_postcode_all(postcode: str) -> tuple[Place, ...]:
    """Every commune served by this postcode (many postcodes serve several).

    Empty tuple for an unknown or malformed postcode.
    """
    if not isinstance(postcode, str):
        return ()
    return _table().get(postcode.strip(), ())


def all_postcodes() -> tuple[str, ...]:
    """Every known postcode, sorted (for synthetic data and pickers)."""
    return tuple(sorted(_table()))


def lookup_postcode(postcode: str) -> Place | None:
    """The place for a 5-digit French postcode, or None if unknown/invalid.

    When a postcode serves several communes this is the first one listed by
    the source (for arrondissement postcodes: the arrondissement). Use
    lookup_postcode_all() to see them all.
    """
    places = lookup_postcode_all(postcode)
    return places[0] if places else None


def postcodes_in_text(text: str) -> list[str]:
    """5-digit candidates found in free text, in order of appearance."""
    return _POSTCODE_IN_TEXT.findall(text) if isinstance(text, str) else []
