"""The kernel's fast paths, beside the plain code they stand for.

Each function gives exactly what its plain path gives (named in its docstring;
`kernel/tests/test_fast.py` holds one against the other), with less work per
event or row; where it cannot be sure (a value not of exactly its declared
type, a class with an __init__ of its own), it hands the work to the plain path.
Every event the store writes or reads, and every row a rebuild writes, goes
through here (measured in docs/benchmarks.md).

- events: `fast_dumper` (the marshmallow schema's dump), `fast_loader` and
  `dataclass_builder` (the dataclass's __init__);
- the store's rows: `encode_event`, `encode_meta`, `recorded_from_row`,
  `recorded_at`, `new_recorded`; the append's one multi-row INSERT:
  `insert_returning` and `stored_value` (SQLAlchemy's insert());
- multi-row statements built once: `execute_compiled` (conn.execute, which
  compiles a multi-row VALUES anew each time);
- rebuilds: `bulk_insert` (SQLAlchemy's executemany; its backend halves are in
  sqlite.py and postgres.py) and `cyclic_gc_paused`.
"""
from __future__ import annotations

import dataclasses
import gc
import math
import typing
from contextlib import contextmanager
from datetime import date, datetime, timezone
from functools import cache, lru_cache
from itertools import chain
from typing import Any, Callable, Iterator, Sequence

from marshmallow import fields
from sqlalchemy import Connection, Table, insert
from sqlalchemy.engine import Dialect

from . import jsontext
from .events import DomainEvent, Metadata, RecordedEvent
from .schema import _unwrap_optional, schema_for


# -- dumping events: the schema's dump ---------------------------------------------
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

    For values of exactly their declared types (str, int, float, bool,
    datetime, date, dict, lists and tuples of those, None) it gives the same
    dict as the schema's dump; anything else (a str subclass, an int in a float
    field...) is dumped by marshmallow itself, so its coercions and errors are unchanged.
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


# -- building instances: the dataclass's __init__ -----------------------------------
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


# -- the store's rows ---------------------------------------------------------------
# Metadata and RecordedEvent are frozen dataclasses: built field by field
# through object.__setattr__ they cost more than the JSON they come from.
_new_metadata = dataclass_builder(Metadata) or (lambda values: Metadata(**values))
_new_recorded = dataclass_builder(RecordedEvent) or (lambda values: RecordedEvent(**values))


def new_recorded(values: dict) -> RecordedEvent:
    """`RecordedEvent(**values)`."""
    return _new_recorded(values)


def event_data(event: DomainEvent) -> dict:
    """The payload: `event.to_data()`."""
    cls = type(event)
    if cls.to_data is DomainEvent.to_data:
        return fast_dumper(cls)(event)
    return event.to_data()  # the class serialises itself


def encode_event(event: DomainEvent) -> str:
    """The payload's JSON text: `jsontext.encode(event.to_data())`."""
    return jsontext.encode(event_data(event))


def encode_meta(meta: Metadata) -> str:
    return jsontext.encode(
        {
            "event_id": meta.event_id,
            "occurred_at": meta.occurred_at.isoformat(),
            "actor_id": meta.actor_id,
            "correlation_id": meta.correlation_id,
            "causation_id": meta.causation_id,
        }
    )


def decode_meta(raw: str) -> Metadata:
    m = jsontext.decode(raw)
    return _new_metadata(
        {
            "event_id": m["event_id"],
            "occurred_at": datetime.fromisoformat(m["occurred_at"]),
            "actor_id": m.get("actor_id"),
            "correlation_id": m.get("correlation_id"),
            "causation_id": m.get("causation_id"),
        }
    )


@cache
def _current_version_loader(cls: type[DomainEvent]):
    """`cls.from_data` for payloads stored at the class's current version.

    Skips the upcasting loop and from_data's function-level import, which add up
    over a rebuild; a class with its own from_data keeps it.
    """
    if cls.from_data.__func__ is not DomainEvent.from_data.__func__:
        return cls.from_data
    return fast_loader(cls)


def recorded_at(value) -> datetime:
    """recorded_at as the store reads it (SQLAlchemy's converter skipped), with its zone.

    SQLite gives SQLAlchemy's naive UTC text "YYYY-MM-DD HH:MM:SS.ffffff", read
    here with the zone appended: fromisoformat is several times quicker than
    SQLAlchemy's converter followed by datetime.replace(tzinfo=...).
    """
    if type(value) is str:
        try:
            return datetime.fromisoformat(value + "+00:00")
        except ValueError:  # the text has a zone of its own
            value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def recorded_from_row(position, stream_id, version, event_type, schema_version, data, meta, stored_at) -> RecordedEvent:
    """One row of `events` as a RecordedEvent (the payload loaded by `DomainEvent.from_data`).

    `data` is the stored JSON text, or its payload already decoded (and its
    personal fields opened: `shredding.Shredder.open_all`)."""
    cls = DomainEvent.lookup(event_type)
    payload = jsontext.decode(data) if type(data) is str else data
    if schema_version == cls.event_version:
        event = _current_version_loader(cls)(payload)
    else:
        event = cls.from_data(payload, schema_version)
    return _new_recorded(
        {
            "position": position,
            "stream_id": stream_id,
            "version": version,
            "event": event,
            "meta": decode_meta(meta),
            "recorded_at": recorded_at(stored_at),
        }
    )


# -- the append's INSERT: SQLAlchemy's insert() -------------------------------------
# pysqlite uses "?"; psycopg2 (and psycopg, pg8000) take "%s".
_POSITIONAL_MARKERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}


@lru_cache(maxsize=256)
def _insert_sql(dialect: Dialect, table: Table, columns: tuple[str, ...], returning: tuple[str, ...], rows: int) -> str:
    """One multi-row INSERT ... RETURNING, written out rather than built by
    SQLAlchemy's insert(): compiling and processing its parameters cost more
    than the database's own work for a small append."""
    quote = dialect.identifier_preparer.quote
    marker = _POSITIONAL_MARKERS[dialect.paramstyle]
    row = "(" + ", ".join([marker] * len(columns)) + ")"
    return (
        f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) "
        f"VALUES {', '.join([row] * rows)} RETURNING {', '.join(quote(c) for c in returning)}"
    )


def insert_returning(
    conn: Connection, table: Table, columns: tuple[str, ...], rows: Sequence[tuple], returning: tuple[str, ...]
) -> list[tuple]:
    """`conn.execute(insert(table).returning(...), rows)` in one statement: the
    returned values of every row, in whatever order the database gives them.
    Values go to the driver as they are (see `stored_value`)."""
    sql = _insert_sql(conn.dialect, table, columns, returning, len(rows))
    return conn.exec_driver_sql(sql, tuple(chain.from_iterable(rows))).all()


@lru_cache(maxsize=64)
def _binder(dialect: Dialect, column_type) -> Callable:
    processor = column_type.dialect_impl(dialect).bind_processor(dialect)
    return processor or (lambda value: value)


def stored_value(dialect: Dialect, column, value):
    """`value` as SQLAlchemy would hand it to the driver for `column` (SQLite
    stores a DateTime as text in SQLAlchemy's format), for `insert_returning`."""
    return _binder(dialect, column.type)(value)


# -- statements built once, compiled once: conn.execute -----------------------------
@lru_cache(maxsize=512)
def _compiled(dialect: Dialect, statement) -> tuple:
    compiled = statement.compile(dialect=dialect)
    binders = {name: _binder(dialect, bind.type) for name, bind in compiled.binds.items()}
    readers = tuple(_reader(dialect, column.type) for column in getattr(statement, "_returning", ()))
    names = tuple(compiled.positiontup) if dialect.positional else None
    return compiled.string, names, binders, readers


@lru_cache(maxsize=64)
def _reader(dialect: Dialect, column_type) -> Callable | None:
    return column_type.dialect_impl(dialect).result_processor(dialect, None)


def execute_compiled(conn: Connection, statement, params: dict) -> list[tuple]:
    """`conn.execute(statement, params).all()` for a statement built once with bound
    parameters only, compiled once (SQLAlchemy does not cache the compilation of a
    multi-row VALUES: ~7 ms for a 75-row upsert), its values converted by SQLAlchemy's
    own bind processors, the values it returns (RETURNING columns) by its result
    processors. Rows come back as plain tuples."""
    sql, names, binders, readers = _compiled(conn.dialect, statement)
    if names is not None:
        values = tuple(binders[name](params[name]) for name in names)
    else:
        values = {name: binders[name](value) for name, value in params.items()}
    result = conn.exec_driver_sql(sql, values)
    if not result.returns_rows:
        return []
    rows = result.fetchall()
    if any(readers):
        rows = [tuple(read(v) if read is not None else v for read, v in zip(readers, row)) for row in rows]
    return [tuple(row) for row in rows]


# -- rebuilds ---------------------------------------------------------------------
def bulk_insert(conn: Connection, table: Table, rows: list[dict]) -> None:
    """`conn.execute(insert(table), rows)`, with less work per row.

    SQLAlchemy's executemany builds and processes a parameter dict per row,
    which on SQLite costs more than the insert itself, and on PostgreSQL sends
    VALUES lists whose literals the server is slow to parse. When every row has
    the same columns and no omitted column has a Python-side default, SQLite
    gets plain tuples (`sqlite.insert_rows`) and PostgreSQL one JSON document
    (`postgres.insert_rows_as_json`, when every value's JSON text reads as its
    literal would). Anything else goes through SQLAlchemy.
    """
    if not rows:
        return
    dialect = conn.dialect
    keys = rows[0].keys()
    same_shape = (
        all(key in table.c for key in keys)
        and not any(c.default is not None for c in table.c if c.key not in keys)
        and all(row.keys() == keys for row in rows)
    )
    if same_shape:
        columns = [table.c[key] for key in keys]
        if dialect.driver == "pysqlite":
            from .sqlite import insert_rows

            insert_rows(conn, table, columns, rows)
            return
        if dialect.driver == "psycopg2":
            from .postgres import insert_rows_as_json

            if insert_rows_as_json(conn, table, columns, rows):
                return
    conn.execute(insert(table), rows)


@contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause Python's cycle collector while a rebuild builds its rows.

    A rebuild allocates millions of small containers, many of which stay alive
    (the rows it holds until the end); every 700 allocations start a collection,
    and the older generations are walked again and again as they grow: about a
    third of a rebuild's time went there. Reference counting still frees what
    the rebuild drops; any cycle a handler makes is collected once it resumes.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
