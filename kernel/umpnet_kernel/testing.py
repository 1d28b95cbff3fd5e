"""Helpers for the tests of the kernel and of every service.

- `temporary_database(backend, directory)`: a fresh, empty database on SQLite
  (a file under `directory`) or on the local PostgreSQL (a throw-away database
  created on the server named by `TEST_POSTGRES_URL`), dropped afterwards.
- `dump_tables`: the rows of read-model tables, sorted, to compare a rebuilt
  read model with the live one.
- `given_when_then`: the aggregate test idiom, events in, command, events out.
- `InMemoryDatabase` and `InMemoryEventStore`: a service's database for unit
  tests of its use cases, with the event log in plain Python; `in_memory(build)`
  gives an application running on one. The store passes the same contract
  suite as the SQL store (kernel/tests/store_contract.py).
"""
from __future__ import annotations

import os
import threading
import uuid
from collections import Counter
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Callable, Iterable, Iterator, NamedTuple, Sequence, TypeVar

from sqlalchemy import Connection, MetaData, Table, create_engine, event, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import IntegrityError
from sqlalchemy.pool import StaticPool

from . import jsontext
from .aggregate import Aggregate
from .database import Database
from .events import DomainEvent, Metadata, RecordedEvent
from .idempotency import outcomes_metadata
from .shredding import shredding_metadata
from .store import ConcurrencyError, kernel_metadata

A = TypeVar("A")

DEFAULT_TEST_POSTGRES_URL = "postgresql://postgres@localhost:5432/postgres"


def postgres_admin_url() -> str:
    return os.environ.get("TEST_POSTGRES_URL", DEFAULT_TEST_POSTGRES_URL)


@contextmanager
def temporary_postgres_url() -> Iterator[str]:
    admin_url = make_url(postgres_admin_url()).set(drivername="postgresql+psycopg2")
    name = f"umpnet_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def temporary_database(backend: str, directory: str) -> Iterator[Database]:
    if backend == "sqlite":
        db = Database(f"sqlite:///{os.path.join(directory, uuid.uuid4().hex[:8] + '.db')}")
        try:
            yield db
        finally:
            db.dispose()
    elif backend == "postgresql":
        with temporary_postgres_url() as url:
            db = Database(url)
            try:
                yield db
            finally:
                db.dispose()
    else:
        raise ValueError(backend)


def dump_tables(conn: Connection, tables: Iterable[Table]) -> dict[str, list[tuple]]:
    """Every row of each table, sorted, for equality checks."""
    return {
        table.name: sorted((tuple(row) for row in conn.execute(select(table))), key=repr)
        for table in tables
    }


def given_when_then(
    aggregate_cls: type[Aggregate],
    aggregate_id: str,
    given: Iterable[DomainEvent],
    when: Callable[[Aggregate], object],
) -> list[DomainEvent]:
    """Rebuild from `given`, run `when`, return the events it recorded."""
    aggregate = aggregate_cls.rehydrate(aggregate_id, given)
    when(aggregate)
    return list(aggregate.pending)


# -- an in-memory database for the unit tests of use cases ------------------
class _StoredEvent(NamedTuple):
    """One event as the in-memory store keeps it: its payload as JSON text, as
    the SQL store does, so an event that would not survive the database does
    not survive here either, and what is read back is a new object."""

    position: int
    stream_id: str
    version: int
    event_type: str
    schema_version: int
    data: str
    meta: Metadata
    recorded_at: datetime

    def recorded(self, payload: dict | None = None) -> RecordedEvent:
        cls = DomainEvent.lookup(self.event_type)
        event = cls.from_data(jsontext.decode(self.data) if payload is None else payload, self.schema_version)
        return RecordedEvent(self.position, self.stream_id, self.version, event, self.meta, self.recorded_at)


class InMemoryEventStore:
    """`store.EventStore`'s methods on a Python list: the reference the SQL
    stores are checked against, and the store of `InMemoryDatabase`.

    Like the SQL store it works inside the caller's transaction, `conn`, a
    connection of its `InMemoryDatabase`: what a transaction appends is seen by
    that transaction only, becomes the log at its commit and is forgotten at
    its rollback (or a rolled-back savepoint's). A version already taken in a
    stream raises `ConcurrencyError` naming the streams of the call; positions
    are global, increasing, in commit order.
    """

    def __init__(self, shredder=None):
        self.shredder = shredder  # shredding.Shredder: personal fields sealed as the SQL store seals them
        self._log: list[_StoredEvent] = []  # committed, in position order
        self._open: dict[Connection, list[_StoredEvent]] = {}  # each transaction's appends
        self._savepoints: dict[Connection, list[int]] = {}  # each one's length of _open at its start

    # -- transactions (called by InMemoryDatabase's engine events) ---------
    def _begin(self, conn: Connection) -> None:
        self._open[conn], self._savepoints[conn] = [], []

    def _commit(self, conn: Connection) -> None:
        appended = self._open.pop(conn, [])
        self._savepoints.pop(conn, None)
        if appended and appended[0].position != self._head() + 1:
            # InMemoryDatabase runs one transaction at a time; two writers at once would get here
            raise RuntimeError("two transactions appended at once to an in-memory store")
        self._log.extend(appended)

    def _rollback(self, conn: Connection) -> None:
        self._open.pop(conn, None)
        self._savepoints.pop(conn, None)

    # Savepoints nest: the one rolled back or released is always the innermost
    # (SQLAlchemy names them only after its `savepoint` event, so by order).
    def _savepoint(self, conn: Connection, _name) -> None:
        self._savepoints[conn].append(len(self._open[conn]))

    def _rollback_savepoint(self, conn: Connection) -> None:
        del self._open[conn][self._savepoints[conn].pop():]

    def _release_savepoint(self, conn: Connection) -> None:
        self._savepoints[conn].pop()

    def _visible(self, conn: Connection) -> list[_StoredEvent]:
        """What `conn`'s transaction sees: the log, then its own appends."""
        try:
            return self._log + self._open[conn]
        except KeyError:
            raise RuntimeError("the in-memory store is used outside a transaction of its database") from None

    def _head(self) -> int:
        return self._log[-1].position if self._log else 0

    # -- EventStore's methods --------------------------------------------
    def append(self, conn, stream_id: str, expected_version: int, events, metas) -> list[RecordedEvent]:
        return self.append_many(conn, [(stream_id, expected_version, events, metas)])[0]

    def append_many(self, conn, appends: Sequence) -> list[list[RecordedEvent]]:
        twice = [s for s, n in Counter(append[0] for append in appends).items() if n > 1]
        if twice:  # the caller's mistake, not a race: two appends at one version
            raise ValueError(f"streams appended to twice in one call: {', '.join(map(repr, twice))}")
        visible = self._visible(conn)
        taken = {(e.stream_id, e.version) for e in visible}
        event_ids = {e.meta.event_id for e in visible}
        now = datetime.now(timezone.utc)
        position = visible[-1].position if visible else 0
        rows: list[list[_StoredEvent]] = []
        for stream_id, expected_version, events, metas in appends:
            rows.append([])
            for version, (domain_event, meta) in enumerate(zip(events, metas, strict=True), start=expected_version + 1):
                if (stream_id, version) in taken:  # named as the SQL store names them: every stream with events
                    named = [(s, v) for s, v, stream_events, _ in appends if len(stream_events)]
                    raise ConcurrencyError(*(named[0] if len(named) == 1 else (None, None)), named)
                if meta.event_id in event_ids:  # the events table's event_id is unique too
                    raise IntegrityError("INSERT INTO events", None, ValueError(f"event id {meta.event_id} stored twice"))
                event_ids.add(meta.event_id)
                position += 1
                payload = domain_event.to_data()
                if self.shredder is not None:
                    payload = self.shredder.seal_all(conn, [domain_event], [payload])[0]
                data = jsontext.encode(payload)
                rows[-1].append(_StoredEvent(position, stream_id, version, domain_event.event_name,
                                             domain_event.event_version, data, meta, now))
        for stream_rows in rows:
            self._open[conn].extend(stream_rows)
        # answered with the events given, as the SQL store does
        return [
            [RecordedEvent(r.position, r.stream_id, r.version, e, r.meta, r.recorded_at)
             for r, e in zip(stream_rows, events)]
            for stream_rows, (_, _, events, _) in zip(rows, appends)
        ]

    def load_stream(self, conn, stream_id: str, after_version: int = 0) -> list[RecordedEvent]:
        found = [e for e in self._visible(conn) if e.stream_id == stream_id and e.version > after_version]
        return self._recorded(conn, sorted(found, key=lambda e: e.version))

    def load_streams(self, conn, stream_ids: Iterable[str]) -> dict[str, list[RecordedEvent]]:
        wanted = set(stream_ids)
        streams: dict[str, list[RecordedEvent]] = {}
        found = [e for e in sorted(self._visible(conn), key=lambda e: (e.stream_id, e.version)) if e.stream_id in wanted]
        for record in self._recorded(conn, found):
            streams.setdefault(record.stream_id, []).append(record)
        return streams

    def _recorded(self, conn, stored: list[_StoredEvent]) -> list[RecordedEvent]:
        if self.shredder is None:
            return [e.recorded() for e in stored]
        payloads = self.shredder.open_all(conn, [jsontext.decode(e.data) for e in stored])
        return [e.recorded(payload) for e, payload in zip(stored, payloads)]

    def stream_version(self, conn, stream_id: str) -> int:
        return max((e.version for e in self._visible(conn) if e.stream_id == stream_id), default=0)

    def read_all(self, conn, after_position: int = 0, limit: int | None = None,
                 event_types: Iterable[str] | None = None) -> list[RecordedEvent]:
        types = None if event_types is None else set(event_types)
        found = [e for e in self._visible(conn)
                 if e.position > after_position and (types is None or e.event_type in types)]
        return self._recorded(conn, found[:limit])

    def iter_all(self, conn, batch_size: int = 5000, event_types: Iterable[str] | None = None) -> Iterator[RecordedEvent]:
        yield from self.read_all(conn, event_types=event_types)

    def redact_clear_events(self, conn, subject: str) -> int:
        """`EventStore.redact_clear_events`: the committed log's payloads rewritten in place
        (at once: unlike an append, a rollback does not undo it; erasures commit)."""
        from .shredding import redacted

        self._visible(conn)  # inside a transaction, as the SQL store
        rewritten = 0
        for i, stored in enumerate(self._log):
            new = redacted(stored.event_type, stored.data, subject) if stored.event_type in DomainEvent._registry else None
            if new is not None:
                self._log[i] = stored._replace(data=new)
                rewritten += 1
        return rewritten

    def head_position(self, conn) -> int:
        visible = self._visible(conn)
        return visible[-1].position if visible else 0

    def count(self, conn) -> int:
        return len(self._visible(conn))


class InMemoryDatabase:
    """A service's database for unit tests: nothing on disk, no server.

    The event log is an `InMemoryEventStore` (`self.store`). The tables that
    SQL code writes (read models, cursors, processed messages, request
    outcomes, a service's own tables such as rate-limit counters) live in an
    SQLite database that exists only in this object's memory: projections and
    queries run unchanged, and a unit test needs neither a file nor PostgreSQL.
    Give it the metadata of the service's tables; the kernel's come with it
    (without `events`, which is the Python log).

    One transaction at a time, like SQLite's single writer: reads and writes
    take one lock (never open one inside another). `is_sqlite` is False, so an
    `Application` runs each command in its own transaction (no group commit).
    """

    is_sqlite = False
    is_postgresql = False
    url = "memory://"

    def __init__(self, *metadata: MetaData):
        self.store = InMemoryEventStore()
        self.engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
        self._lock = threading.Lock()  # a green lock once eventlet has patched threading
        self._holder: int | None = None  # the thread in a transaction
        self._watch_transactions()
        tables = [t for t in kernel_metadata.sorted_tables if t.name != "events"]
        with self.write() as conn:
            for table_metadata in (outcomes_metadata, shredding_metadata, *metadata):
                table_metadata.create_all(conn)
            kernel_metadata.create_all(conn, tables=tables)

    def _watch_transactions(self) -> None:
        store = self.store

        @event.listens_for(self.engine, "connect")
        def on_connect(dbapi_conn, _record):
            dbapi_conn.isolation_level = None  # we send BEGIN: pysqlite's own handling breaks SAVEPOINTs

        @event.listens_for(self.engine, "begin")
        def on_begin(conn):
            conn.connection.driver_connection.execute("BEGIN")
            store._begin(conn)

        event.listen(self.engine, "commit", store._commit)
        event.listen(self.engine, "rollback", store._rollback)
        event.listen(self.engine, "savepoint", store._savepoint)
        event.listen(self.engine, "rollback_savepoint", lambda conn, _name, _context: store._rollback_savepoint(conn))
        event.listen(self.engine, "release_savepoint", lambda conn, _name, _context: store._release_savepoint(conn))

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction: commits on success, rolls back on any error."""
        me = threading.get_ident()  # the greenthread's, once eventlet has patched threading
        if self._holder == me:  # it would wait for itself forever
            raise RuntimeError("a transaction opened inside another: an InMemoryDatabase has one connection")
        with self._lock:
            self._holder = me
            try:
                with self.write_holding_lock() as conn:
                    yield conn
            finally:
                self._holder = None

    read = write  # one connection: a read is a transaction like any other

    @contextmanager
    def write_holding_lock(self) -> Iterator[Connection]:
        with self.engine.connect() as conn, conn.begin():
            yield conn

    @property
    def write_lock(self):
        return self._lock

    def dispose(self) -> None:
        self.engine.dispose()

    def application(self, build: Callable[["InMemoryDatabase"], A]) -> A:
        """The application `build(self)` makes, its store replaced by this
        database's (`Application` makes its own `EventStore` today)."""
        app = build(self)
        self.store.shredder = app.store.shredder
        app.store = self.store
        return app


def in_memory(build: Callable[[InMemoryDatabase], A], *metadata: MetaData) -> A:
    """The application `build(db)` makes, on a fresh `InMemoryDatabase` with
    these tables: `in_memory(lambda db: MembersApp(db, key), read_models)`."""
    return InMemoryDatabase(*metadata).application(build)
