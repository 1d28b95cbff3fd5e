"""The store's JSON text: orjson's speed, the standard library's rules."""
import json
from dataclasses import dataclass
from datetime import date, datetime, timezone

import pytest

from umpnet_kernel import jsontext

VALUES = [
    {"member_id": "m-1", "first_name": "Léa", "themes": ["écologie", "santé"], "age": 31, "score": 2.5},
    {"nested": {"deep": [None, True, False, 0, -1, 1e300]}, "empty": {}, "list": []},
    {"u64": 2**64 - 1, "i64": -(2**63), "emoji": "🗳️", "quote": 'say "hi"\n'},
    "plain string",
    [1, 2, 3],
    None,
]


@pytest.mark.parametrize("value", VALUES)
def test_what_it_writes_reads_back_equal_with_either_parser(value):
    text = jsontext.encode(value)
    assert json.loads(text) == value
    assert jsontext.decode(text) == value
    assert jsontext.decode(json.dumps(value)) == value  # text written before orjson came in


def test_non_ascii_is_kept_readable_and_text_is_compact():
    assert jsontext.encode({"nom": "Brest, Finistère"}) == '{"nom":"Brest, Finistère"}'


def test_str_subclasses_and_integer_keys_are_written_as_json_dumps_writes_them():
    class Slug(str):
        pass

    assert jsontext.encode({"slug": Slug("x"), 1: "un"}) == json.dumps({"slug": "x", "1": "un"}, separators=(",", ":"))


@dataclass
class Point:
    x: int


@pytest.mark.parametrize("value", [datetime(2026, 11, 23, tzinfo=timezone.utc), date(2026, 11, 23), Point(1), object()])
def test_what_json_dumps_refuses_is_refused(value):
    with pytest.raises(TypeError):
        jsontext.encode({"value": value})


@pytest.mark.parametrize("big", [2**64, 2**70 + 1, -(2**63) - 1])
def test_integers_that_would_not_read_back_exactly_are_refused(big):
    with pytest.raises(ValueError):
        jsontext.encode({"n": big})


def test_older_text_with_nan_still_reads_and_invalid_text_raises_json_errors():
    assert jsontext.decode('{"x":NaN}')["x"] != jsontext.decode('{"x":NaN}')["x"]  # NaN is not equal to itself
    for bad in ["", '{"a":', '{"a":1}x']:
        with pytest.raises(json.JSONDecodeError):
            jsontext.decode(bad)
