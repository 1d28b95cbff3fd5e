"""Marshmallow schemas derived from event dataclasses.

An event's fields are declared once, on its dataclass; this module turns the
type hints into a marshmallow schema (validation, the bus format, the catalogue).
The store dumps and loads events without marshmallow's per-field machinery
when it can (`fast.fast_dumper`, `fast.fast_loader`), to the same result.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from datetime import date, datetime, timezone
from functools import cache
from typing import Any, Callable

from marshmallow import EXCLUDE, Schema, fields, post_load

_SCALARS: dict[type, Callable[..., fields.Field]] = {
    str: fields.String,
    int: lambda **kw: fields.Integer(strict=True, **kw),
    float: fields.Float,
    bool: fields.Boolean,
    datetime: lambda **kw: fields.AwareDateTime(default_timezone=timezone.utc, **kw),
    date: fields.Date,
    dict: fields.Dict,
}


def _unwrap_optional(hint) -> tuple[Any, bool]:
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(hint)) == 2:
            return args[0], True
    return hint, False


def field_for(hint, **kw) -> fields.Field:
    """The marshmallow field for one type hint (str, int, datetime, X | None, tuple[X, ...])."""
    hint, optional = _unwrap_optional(hint)
    if optional:
        kw["allow_none"] = True
    origin = typing.get_origin(hint)
    if origin in (list, tuple):
        inner = typing.get_args(hint)[0]
        return fields.List(field_for(inner), **kw)
    if origin is dict:
        return fields.Dict(**kw)
    if hint in _SCALARS:
        return _SCALARS[hint](**kw)
    raise TypeError(f"no schema field for type {hint!r}")


@cache
def schema_for(cls) -> Schema:
    """A marshmallow schema instance for a dataclass (events, messages)."""
    hints = typing.get_type_hints(cls)
    declared: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        has_default = f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        kw: dict[str, Any] = {"required": not has_default, "metadata": dict(f.metadata)}
        if has_default:
            kw["load_default"] = (
                f.default if f.default is not dataclasses.MISSING else f.default_factory
            )
        declared[f.name] = field_for(hints[f.name], **kw)

    tuple_fields = [n for n, h in hints.items() if typing.get_origin(_unwrap_optional(h)[0]) is tuple]

    class Meta:
        unknown = EXCLUDE  # tolerant reader: newer producers may add fields

    def make(self, data, **kwargs):
        for name in tuple_fields:
            if data.get(name) is not None:
                data[name] = tuple(data[name])
        return cls(**data)

    body = dict(declared, Meta=Meta, make=post_load(make))
    return type(f"{cls.__name__}Schema", (Schema,), body)()
