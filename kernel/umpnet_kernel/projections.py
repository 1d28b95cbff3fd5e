"""Read models: tables derived from events, never written any other way.

Live, a projection is applied in the same transaction as the append that
produced the event, so a read model is never behind its store. A rebuild
replays the whole store into emptied tables; it must give the same rows.
"""
from __future__ import annotations

from functools import cached_property
from typing import Any, Callable, ClassVar, Iterable

from sqlalchemy import Connection, Table, bindparam, delete, insert, select
from sqlalchemy.exc import IntegrityError

from . import jsontext
from .database import violates_unique_key
from .events import DomainEvent, RecordedEvent
from .fast import bulk_insert, cyclic_gc_paused
from .postgres import lock_appends
from .store import EventStore


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

    A unique key of a read model that a command checks before it decides
    ("one account per address") can be taken by another transaction between
    the check and the commit. Listed in `claims`, as (table, columns), its
    violation is a race: the command is decided again on fresh state (and
    sees the key taken). Any other integrity error of a read model is a bug.
    """

    name: ClassVar[str]
    tables: ClassVar[tuple[Table, ...]] = ()
    claims: ClassVar[tuple[tuple[Table, tuple[str, ...]], ...]] = ()
    _handlers: ClassVar[dict[type[DomainEvent], Callable]]

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        cls._handlers = {}
        cls.batches = cls.apply_many is not Projection.apply_many
        for klass in reversed(cls.__mro__):
            for attr in vars(klass).values():
                for event_type in getattr(attr, "_handles_events", ()):
                    cls._handlers[event_type] = attr

    def handled_types(self) -> set[type[DomainEvent]]:
        return set(self._handlers)

    def lost_claim(self, error: IntegrityError) -> bool:
        """Whether `error` is another transaction taking one of `claims` first."""
        return any(violates_unique_key(error, table, columns) for table, columns in self.claims)

    def apply(self, conn: Connection, recorded: RecordedEvent) -> None:
        handler = self._handlers.get(type(recorded.event))
        if handler is not None:
            handler(self, conn, recorded.event, recorded)

    #: True when the class overrides `apply_many` (set by __init_subclass__)
    batches: ClassVar[bool] = False

    def apply_many(self, conn: Connection, records: list[RecordedEvent]) -> None:
        """`apply` each record in order. A projection may override it to write a
        run of events in fewer statements (a unit of work hands it the runs of
        consecutive events that it alone handles); it must leave the rows that
        `apply` one by one would."""
        for recorded in records:
            self.apply(conn, recorded)

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
    #: the key column, and the event attribute of the same name that holds the key
    key_column: ClassVar[str]
    #: columns stored as JSON text (lists, dicts)
    json_columns: ClassVar[tuple[str, ...]] = ()

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        if "table" in cls.__dict__:
            cls.tables = (cls.table,)

    def key_of(self, event: DomainEvent) -> Any:
        return getattr(event, self.key_column)

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
        # `fast.bulk_insert`: what `conn.execute(insert(table), rows)` writes, quicker
        rows = [self._encode(r) for r in self._rows.values()]
        for i in range(0, len(rows), chunk):
            bulk_insert(conn, self.table, rows[i : i + chunk])
        self._rows = {}


def rebuild(conn: Connection, store: EventStore, projections: Iterable[Projection]) -> int:
    """Empty the projections' tables and replay the whole store into them.

    Runs in the caller's write transaction: readers keep seeing the old rows
    until it commits, and (on PostgreSQL) appends wait on the append lock so
    none can slip in between the replay and the commit. Only the events some
    projection handles are read; the cycle collector waits till the end
    (`fast.cyclic_gc_paused`).
    """
    projections = list(projections)
    lock_appends(conn)
    for projection in projections:
        projection.start_rebuild(conn)
    handled = {t.event_name for p in projections for t in p.handled_types()}
    count = 0
    with cyclic_gc_paused():
        for recorded in store.iter_all(conn, event_types=handled):
            for projection in projections:
                projection.replay(conn, recorded)
            count += 1
        for projection in projections:
            projection.finish_rebuild(conn)
    return count
