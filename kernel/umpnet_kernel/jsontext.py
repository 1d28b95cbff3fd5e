"""JSON text for the store and read models: orjson where it gives the same
values, the standard library for everything else.

Every event is written as two JSON documents (payload and metadata) and read
back as two in every rebuild and stream load; the standard library's encoder
cost ~2 µs a document here, orjson's ~0.2 µs, and its parser half as much.

`encode` refuses what `json.dumps` refuses (datetimes, dataclasses, arbitrary
objects raise TypeError from both), and what `decode` could not read back
exactly (integers beyond 64 bits: ValueError). It differs from `json.dumps` in
three ways: a `uuid.UUID` becomes its string, an `Enum` its value, and a float
NaN or infinity becomes null (`json.dumps` writes `NaN`, which is not JSON;
event schemas refuse such floats before they get here, see `schema.py`).
`decode` reads whatever the store has ever written, including the `NaN` of
text written by `json.dumps` (orjson refuses it; `json.loads` reads it).
"""
from __future__ import annotations

import json

import orjson

# Types orjson would serialise on its own but json.dumps refuses: hand them to
# `default`, which has none, so they raise TypeError as before.
_STRICT = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS | orjson.OPT_PASSTHROUGH_SUBCLASS
_stdlib_encode = json.JSONEncoder(separators=(",", ":")).encode


def encode(value) -> str:
    """Compact JSON text (non-ASCII characters kept as they are)."""
    try:
        return orjson.dumps(value, option=_STRICT).decode()  # the usual path
    except TypeError:
        # Beyond orjson: str subclasses, non-string keys, integers over 64
        # bits... json.dumps takes those it can and raises for the rest.
        text = _stdlib_encode(value)
    # Rare path: make sure what is stored reads back as written (orjson reads
    # an integer beyond 64 bits as a float, and NaN not at all).
    try:
        exact = _stdlib_encode(orjson.loads(text)) == text
    except orjson.JSONDecodeError:
        exact = False
    if not exact:
        raise ValueError("a value cannot be stored exactly as JSON (an integer beyond 64 bits, a NaN?)")
    return text


def decode(text: str | bytes):
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)  # NaN / Infinity, or really invalid: json.loads decides
