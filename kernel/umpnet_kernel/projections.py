"""Read models: tables derived from events, never written any other way.

Live, a projection is applied in the same transaction as the append that
produced the event, so a read model is never behind its store. A rebuild
replays the whole store into emptied tables; it must give the same rows.
"""
from __future__ import annotations

import gc
import json
from contextlib import contextmanager
from functools import cached_property
from datetime import date, datetime, timedelta, timezone
from operator import itemgetter
from typing import Any, Callable, ClassVar, Iterable, Iterator

from sqlalchemy import Connection, Table, bindparam, delete, insert, select
from sqlalchemy.sql import sqltypes

from . import jsontext
from .events import DomainEvent, RecordedEvent
from .store import EventStore, lock_appends


def handles(*event_types: type[DomainEvent]) -> Callable:
    """Mark a projection method as the handler of these event types."""

    def mark(method):
        method._handles_events = event_types
        return method

    return mark


class Projection:
    """A read model built from events.

    Handlers are methods `(self, conn, event, recorded)` marked `@handles(...)`.
    `tables` lists the tables this projection owns: a rebuild empties them.
    Row keys must come from the events (ids, `recorded.position`), never from
    a database sequence, or a rebuild would not give the same rows.
    """

    name: ClassVar[str]
    tables: ClassVar[tuple[Table, ...]] = ()
    _handlers: ClassVar[dict[type[DomainEvent], Callable]]

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        cls._handlers = {}
        for klass in reversed(cls.__mro__):
            for attr in vars(klass).values():
                for event_type in getattr(attr, "_handles_events", ()):
                    cls._handlers[event_type] = attr

    def handled_types(self) -> set[type[DomainEvent]]:
        return set(self._handlers)

    def apply(self, conn: Connection, recorded: RecordedEvent) -> None:
        handler = self._handlers.get(type(recorded.event))
        if handler is not None:
            handler(self, conn, recorded.event, recorded)

    # -- rebuild protocol: start, replay every event, finish ---------------
    def start_rebuild(self, conn: Connection) -> None:
        for table in reversed(self.tables):
            conn.execute(delete(table))

    def replay(self, conn: Connection, recorded: RecordedEvent) -> None:
        self.apply(conn, recorded)

    def finish_rebuild(self, conn: Connection) -> None:
        pass


class KeyedProjection(Projection):
    """One row per key in one table; handlers are pure functions of (row, event).

    A handler `(self, row, event, recorded) -> row | None` gets the current row
    as a dict (or None) and returns the new row (None deletes it). Because
    handlers do no I/O, a rebuild keeps rows in memory and writes them in bulk
    at the end, which is what makes rebuilding fast.
    """

    table: ClassVar[Table]
    key_column: ClassVar[str]
    #: the event attribute holding the key (defaults to the key column's name)
    key_attribute: ClassVar[str | None] = None
    #: columns stored as JSON text (lists, dicts)
    json_columns: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if "table" in cls.__dict__:
            cls.tables = (cls.table,)

    def key_of(self, event: DomainEvent) -> Any:
        return getattr(event, self.key_attribute or self.key_column)

    def _encode(self, row: dict) -> dict:
        row = dict(row)
        for column in self.json_columns:
            if column in row and row[column] is not None:
                row[column] = jsontext.encode(row[column])
        return row

    def _decode(self, row: dict) -> dict:
        for column in self.json_columns:
            if row.get(column) is not None:
                row[column] = jsontext.decode(row[column])
        return row

    # Statements built once per projection, values passed as parameters: a
    # statement built per call (with its values inside) made SQLAlchemy derive
    # a cache key and coerce literals every time, most of a command's CPU.
    @cached_property
    def _statements(self) -> dict:
        key = self.table.c[self.key_column] == bindparam("key_")
        return {
            "select": select(self.table).where(key),
            "insert": insert(self.table),
            "update": self.table.update().where(key),
            "delete": delete(self.table).where(key),
        }

    def load_row(self, conn: Connection, key: Any) -> dict | None:
        found = conn.execute(self._statements["select"], {"key_": key}).mappings().first()
        return self._decode(dict(found)) if found is not None else None

    def apply(self, conn: Connection, recorded: RecordedEvent) -> None:
        handler = self._handlers.get(type(recorded.event))
        if handler is None:
            return
        key = self.key_of(recorded.event)
        before = self.load_row(conn, key)
        after = handler(self, before, recorded.event, recorded)
        statements = self._statements
        if after is None:
            if before is not None:
                conn.execute(statements["delete"], {"key_": key})
        elif before is None:
            conn.execute(statements["insert"], self._encode(after))
        else:
            changed = {k: v for k, v in after.items() if before.get(k) != v}
            if changed:
                conn.execute(statements["update"], {**self._encode(changed), "key_": key})

    def start_rebuild(self, conn: Connection) -> None:
        super().start_rebuild(conn)
        self._rows: dict[Any, dict] = {}

    def replay(self, conn: Connection, recorded: RecordedEvent) -> None:
        handler = self._handlers.get(type(recorded.event))
        if handler is None:
            return
        key = self.key_of(recorded.event)
        after = handler(self, self._rows.get(key), recorded.event, recorded)
        if after is None:
            self._rows.pop(key, None)
        else:
            self._rows[key] = after

    def finish_rebuild(self, conn: Connection, chunk: int = 2000) -> None:
        rows = [self._encode(r) for r in self._rows.values()]
        for i in range(0, len(rows), chunk):
            bulk_insert(conn, self.table, rows[i : i + chunk])
        self._rows = {}


def bulk_insert(conn: Connection, table: Table, rows: list[dict]) -> None:
    """`conn.execute(insert(table), rows)`, with less work per row.

    SQLAlchemy's executemany builds and processes a parameter dict per row,
    which on SQLite costs more than the insert itself, and on PostgreSQL sends
    VALUES lists whose literals the server is slow to parse. When every row has
    the same columns and no omitted column has a Python-side default:
    - SQLite gets plain tuples, converted by SQLAlchemy's own bind processors;
    - PostgreSQL gets the rows as one JSON document (json_populate_recordset),
      if every value is of a type whose JSON text the column reads exactly as it
      reads psycopg2's literal.
    Anything else goes through SQLAlchemy.
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
            _insert_sqlite(conn, table, columns, rows)
            return
        if dialect.driver == "psycopg2" and _insert_postgresql_json(conn, table, columns, rows):
            return
    conn.execute(insert(table), rows)


def _insert_sqlite(conn: Connection, table: Table, columns: list, rows: list[dict]) -> None:
    dialect = conn.dialect
    quote = dialect.identifier_preparer.quote
    sql = (
        f"INSERT INTO {dialect.identifier_preparer.format_table(table)} "
        f"({', '.join(quote(c.name) for c in columns)}) VALUES ({', '.join('?' * len(columns))})"
    )
    keys = [c.key for c in columns]
    values_of = itemgetter(*keys) if len(keys) > 1 else (lambda row: (row[keys[0]],))
    parameters = [values_of(row) for row in rows]  # tuples in `columns` order
    converted = [(i, p) for i, p in enumerate(_sqlite_binder(c.type, dialect) for c in columns) if p]
    if converted:

        def convert_row(values: tuple) -> tuple:
            values = list(values)
            for i, convert in converted:
                if values[i] is not None:
                    values[i] = convert(values[i])
            return tuple(values)

        parameters = [convert_row(values) for values in parameters]
    conn.exec_driver_sql(sql, parameters)


def _json_plan(column, dialect) -> tuple[tuple[type, ...], bool] | None:
    """(the Python types sent as JSON to this column, whether datetimes must be naive).

    Only types whose JSON text PostgreSQL's input function reads as it reads
    psycopg2's literal, and only for columns SQLAlchemy does not convert itself.
    A zoned datetime in a timestamp-without-zone column would be converted by
    psycopg2's cast but not from JSON text: such values are left to SQLAlchemy.
    """
    column_type = column.type
    processor = column_type.dialect_impl(dialect).bind_processor(dialect)
    if isinstance(column_type, sqltypes.Boolean):
        # SQLAlchemy only checks that native booleans are booleans
        passes = processor is None or (processor(True) is True and processor(False) is False)
        return ((bool,), False) if passes else None
    if processor is not None:
        return None
    if isinstance(column_type, sqltypes.Integer):
        return (int,), False
    if isinstance(column_type, sqltypes.Float):
        return (float, int), False
    if isinstance(column_type, sqltypes.String):
        return (str,), False
    if isinstance(column_type, sqltypes.DateTime):
        return (datetime,), not column_type.timezone
    if isinstance(column_type, sqltypes.Date):
        return (date,), False
    return None


def _isoformat(value):
    if type(value) in (date, datetime):
        return value.isoformat()
    raise TypeError(f"not sent as JSON: {value!r}")


# allow_nan=False: NaN and infinities are not JSON, their rows go through SQLAlchemy.
_encode_recordset = json.JSONEncoder(
    separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_isoformat
).encode


def _insert_postgresql_json(conn: Connection, table: Table, columns: list, rows: list[dict]) -> bool:
    plans = [_json_plan(c, conn.dialect) for c in columns]
    if None in plans:
        return False
    checks = [(c.key, kinds, naive) for c, (kinds, naive) in zip(columns, plans)]
    for row in rows:
        for key, kinds, naive in checks:
            value = row[key]
            if value is not None and (type(value) not in kinds or (naive and value.tzinfo is not None)):
                return False
    names = [c.name for c in columns]
    if names != [c.key for c in columns]:
        rows = [{c.name: row[c.key] for c in columns} for row in rows]
    try:
        document = _encode_recordset(rows)
    except ValueError:  # NaN or infinity
        return False
    preparer = conn.dialect.identifier_preparer
    table_name, quoted = preparer.format_table(table), ", ".join(preparer.quote(n) for n in names)
    conn.exec_driver_sql(
        f"INSERT INTO {table_name} ({quoted}) "
        f"SELECT {quoted} FROM json_populate_recordset(NULL::{table_name}, %s)",
        (document,),
    )
    return True


def _sqlite_binder(column_type, dialect) -> Callable | None:
    """SQLAlchemy's bind processor for a column on SQLite, made quicker for plain values.

    SQLAlchemy writes dates and datetimes with %-formatting of a dict per value,
    which dominates a rebuild's inserts. For values of exactly `date`, `datetime`
    or `bool` this uses isoformat / int instead, but only after checking on
    sample values that they give the very text SQLAlchemy would (a custom
    storage format keeps SQLAlchemy's processor).
    """
    impl = column_type.dialect_impl(dialect)
    slow = impl.bind_processor(dialect)
    if slow is None:
        return None
    if isinstance(impl, sqltypes.DateTime):
        exact, quick = datetime, lambda v: v.isoformat(" ", "microseconds")[:26]
        samples = [datetime(2026, 1, 2, 3, 4, 5, 6), datetime(999, 12, 31), datetime.now(timezone.utc),
                   datetime(2026, 6, 1, 12, tzinfo=timezone(timedelta(hours=2)))]
    elif isinstance(impl, sqltypes.Date):
        exact, quick = date, date.isoformat
        samples = [date(2026, 1, 2), date(999, 12, 31)]
    elif isinstance(impl, sqltypes.Boolean):
        exact, quick = bool, int  # SQLite stores booleans as 0 / 1
        samples = [True, False]
    else:
        return slow
    if any(quick(v) != slow(v) or type(quick(v)) is not type(slow(v)) for v in samples):
        return slow
    return lambda value: quick(value) if type(value) is exact else slow(value)


@contextmanager
def _cyclic_gc_paused() -> Iterator[None]:
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


def rebuild(conn: Connection, store: EventStore, projections: Iterable[Projection]) -> int:
    """Empty the projections' tables and replay the whole store into them.

    Runs in the caller's write transaction: readers keep seeing the old rows
    until it commits, and (on PostgreSQL) appends wait on the append lock so
    none can slip in between the replay and the commit.
    """
    projections = list(projections)
    lock_appends(conn)
    for projection in projections:
        projection.start_rebuild(conn)
    handled = {t.event_name for p in projections for t in p.handled_types()}
    count = 0
    with _cyclic_gc_paused():
        for recorded in store.iter_all(conn, event_types=handled):
            for projection in projections:
                projection.replay(conn, recorded)
            count += 1
        for projection in projections:
            projection.finish_rebuild(conn)
    return count
