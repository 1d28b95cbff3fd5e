"""Marshmallow schemas derived from event dataclasses.

An event's fields are declared once, on its dataclass; this module turns the
type hints into a marshmallow schema (validation, the bus format, the catalogue)
and into a fast loader for payloads the store already validated.
"""
from __future__ import annotations

import dataclasses
import math
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


class _NotPlain(Exception):
    """A value that is not exactly of its field's declared type: marshmallow dumps it."""


def _finite(value: float) -> float:
    # NaN and infinities have no JSON form: stored, they would come back as
    # null, and a read model rebuilt from the store would differ from the live one.
    if not math.isfinite(value):
        raise ValueError(f"{value!r} cannot be stored in an event")
    return value


# field class: (the exact type its values have, the check or conversion on dump)
_PLAIN_FIELDS = {
    fields.String: (str, None),
    fields.Integer: (int, None),
    fields.Float: (float, _finite),
    fields.Boolean: (bool, None),
}


def _dump_plan(field: fields.Field) -> tuple[tuple[type, ...], Callable | None] | None:
    """(the exact types a value may have, the conversion marshmallow's dump applies to them).

    None for a field this module does not create the usual way (custom format,
    as_string, data_key...): its class is then always dumped by marshmallow.
    """
    if field.data_key is not None or field.attribute is not None:
        return None
    kind = type(field)
    if kind is fields.List:
        inner = _dump_plan(field.inner)
        return None if inner is None else ((tuple, list), _list_converter(*inner))
    if kind in (fields.DateTime, fields.AwareDateTime, fields.Date):
        if field.format not in (None, "iso", "iso8601"):
            return None
        exact = date if kind is fields.Date else datetime  # a datetime is not taken for a date
        return (exact,), exact.isoformat
    if kind in _PLAIN_FIELDS and not getattr(field, "as_string", False):
        exact, convert = _PLAIN_FIELDS[kind]
        return (exact,), convert  # exactly: bool is not taken for an int
    if kind is fields.Dict and field.key_field is None and field.value_field is None:
        return (dict,), dict  # marshmallow copies the mapping
    return None


def _list_converter(kinds: tuple[type, ...], convert: Callable | None) -> Callable:
    def convert_list(values) -> list:
        out = []
        for value in values:
            if value is not None:
                if type(value) not in kinds:
                    raise _NotPlain
                if convert is not None:
                    value = convert(value)
            out.append(value)
        return out

    return convert_list


@cache
def fast_dumper(cls) -> Callable[[Any], dict[str, Any]]:
    """`schema_for(cls).dump`, without marshmallow's per-field machinery when possible.

    Appending goes through this for every event. For values of exactly their
    declared types (str, int, float, bool, datetime, date, dict, lists and tuples
    of those, None) it gives the same dict as the schema's dump; anything else
    (a str subclass, an int in a float field...) is dumped by marshmallow itself,
    so its coercions and errors are unchanged.
    """
    schema = schema_for(cls)  # declares no pre/post-dump hooks
    plan = []
    for name, field in schema.dump_fields.items():
        field_plan = _dump_plan(field)
        if field_plan is None:
            return schema.dump
        plan.append((name, *field_plan))

    def dump(obj) -> dict[str, Any]:
        out = {}
        try:
            for name, kinds, convert in plan:
                value = getattr(obj, name)
                # marshmallow dumps None as None whatever the field (it validates on load only)
                if value is not None:
                    if type(value) not in kinds:
                        raise _NotPlain
                    if convert is not None:
                        value = convert(value)
                out[name] = value
        except _NotPlain:
            return schema.dump(obj)
        return out

    return dump


def dataclass_builder(cls) -> Callable[[dict], Any] | None:
    """A function making an instance of dataclass `cls` from a dict of exactly its fields.

    A frozen dataclass's generated __init__ sets each field through
    `object.__setattr__`, which costs more than decoding the JSON it came from;
    filling the instance's __dict__ gives the same object. Only for classes whose
    __init__ is the one @dataclass wrote and does nothing more (no __post_init__,
    no init=False field, no slots); None for the others.
    """
    init_code = getattr(cls.__init__, "__code__", None)
    plain = (
        dataclasses.is_dataclass(cls)
        and init_code is not None
        and init_code.co_filename == "<string>"  # written by @dataclass, not by hand
        and not hasattr(cls, "__post_init__")
        and all(f.init for f in dataclasses.fields(cls))
        and getattr(cls, "__dictoffset__", 0) != 0  # instances have a __dict__
    )
    if not plain:
        return None
    new = object.__new__

    def build(values: dict) -> Any:
        instance = new(cls)
        instance.__dict__.update(values)
        return instance

    return build


@cache
def fast_loader(cls) -> Callable[[dict], Any]:
    """Build instances of `cls` from already-validated JSON payloads, quickly.

    Replaying a store goes through this for every event, so it does only what
    JSON cannot: parse datetimes and turn lists into tuples.
    """
    hints = typing.get_type_hints(cls)
    field_names = [f.name for f in dataclasses.fields(cls)]
    names = set(field_names)
    converters: list[tuple[str, Callable]] = []
    for name in field_names:
        base, _ = _unwrap_optional(hints[name])
        if base is datetime:
            converters.append((name, datetime.fromisoformat))
        elif base is date:
            converters.append((name, date.fromisoformat))
        elif typing.get_origin(base) is tuple:
            converters.append((name, tuple))
    build = dataclass_builder(cls)

    def load(data: dict) -> Any:
        # The usual case: the declared fields in their order, as dumped.
        as_dumped = build is not None and list(data) == field_names
        values = dict(data) if as_dumped else {k: v for k, v in data.items() if k in names}
        for name, convert in converters:
            value = values.get(name)
            if value is not None:
                values[name] = convert(value)
        return build(values) if as_dumped else cls(**values)  # cls fills defaults, or says what is missing

    return load
