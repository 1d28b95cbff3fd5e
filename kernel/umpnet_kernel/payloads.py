"""RPC payloads read into commands (the frozen dataclasses of a service's `commands.py`).

Each command's schema is derived from its dataclass (a field is declared once,
in `commands.py`), and refuses any key that is not a field: a payload that does
not fit its command is the caller's bug, raised as `PayloadMismatch` (a
TypeError, so it crosses RPC as an error, never as a 400 for the user to fix).
What the values may be is for the use cases and the domain to say.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from functools import cache
from typing import Any, TypeVar

from marshmallow import RAISE, Schema, ValidationError

from .schema import field_for

C = TypeVar("C")


class PayloadMismatch(TypeError):
    """An RPC payload that does not fit its command (unknown, missing or mistyped fields)."""


@cache
def payload_schema(command: type, given: tuple[str, ...] = ()) -> Schema:
    """The strict schema of `command`'s fields, without those `given` apart."""
    hints = typing.get_type_hints(command)
    declared = {
        f.name: field_for(hints[f.name], required=f.default is dataclasses.MISSING)
        for f in dataclasses.fields(command)
        if f.name not in given
    }
    return Schema.from_dict(declared, name=f"{command.__name__}Payload")(unknown=RAISE)


def _is_tuple(hint) -> bool:
    """tuple[X, ...] or tuple[X, ...] | None: JSON gives a list, the command keeps a tuple."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return any(typing.get_origin(arg) is tuple for arg in typing.get_args(hint))
    return typing.get_origin(hint) is tuple


def load(command: type[C], payload: Any, **given) -> C:
    """`command` from a payload dict, plus the fields `given` apart (the
    member's id beside its profile changes); missing optional fields take
    the command's defaults. Error messages name fields, never values."""
    if not isinstance(payload, dict):
        raise PayloadMismatch(f"{command.__name__}: the payload is not an object")
    try:
        values = payload_schema(command, tuple(sorted(given))).load(payload)
    except ValidationError as exc:
        raise PayloadMismatch(f"{command.__name__}: {exc.messages}") from None
    tuples = _tuple_fields(command)
    for name, value in values.items():
        if value is not None and name in tuples:
            values[name] = tuple(value)
    return command(**values, **given)


@cache  # every RPC call loads a command: its type hints are read once
def _tuple_fields(command: type) -> frozenset[str]:
    return frozenset(name for name, hint in typing.get_type_hints(command).items() if _is_tuple(hint))
