"""Read models: tables derived from events, never written any other way.

Live, a projection is applied in the same transaction as the append that
produced the event, so a read model is never behind its store. A rebuild
replays the whole store into emptied tables; it must give the same rows.
"""
from __future__ import annotations

import json
from typing import Any, Callable, ClassVar, Iterable

from sqlalchemy import Connection, Table, delete, insert, select

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
                row[column] = json.dumps(row[column], separators=(",", ":"))
        return row

    def _decode(self, row: dict) -> dict:
        for column in self.json_columns:
            if row.get(column) is not None:
                row[column] = json.loads(row[column])
        return row

    def load_row(self, conn: Connection, key: Any) -> dict | None:
        found = conn.execute(select(self.table).where(self.table.c[self.key_column] == key)).mappings().first()
        return self._decode(dict(found)) if found is not None else None

    def apply(self, conn: Connection, recorded: RecordedEvent) -> None:
        handler = self._handlers.get(type(recorded.event))
        if handler is None:
            return
        key = self.key_of(recorded.event)
        before = self.load_row(conn, key)
        after = handler(self, before, recorded.event, recorded)
        key_match = self.table.c[self.key_column] == key
        if after is None:
            if before is not None:
                conn.execute(delete(self.table).where(key_match))
        elif before is None:
            conn.execute(insert(self.table).values(**self._encode(after)))
        else:
            changed = {k: v for k, v in after.items() if before.get(k) != v}
            if changed:
                conn.execute(self.table.update().where(key_match).values(**self._encode(changed)))

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
            conn.execute(insert(self.table), rows[i : i + chunk])
        self._rows = {}


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
    for recorded in store.iter_all(conn, event_types=handled):
        for projection in projections:
            projection.replay(conn, recorded)
        count += 1
    for projection in projections:
        projection.finish_rebuild(conn)
    return count
