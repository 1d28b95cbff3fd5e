"""The append-only event store, one per service database.

- Optimistic concurrency by the primary key `(stream_id, version)`: two writers
  that read the same version of a stream cannot both append; the second gets
  `ConcurrencyError` and its whole transaction is rolled back.
- `position` is a global, gap-free-when-committed sequence that orders every
  event of the service. It doubles as the outbox: the relay publishes by
  position (see `relay.py`). On PostgreSQL concurrent transactions could commit
  positions out of order (11 visible before 10), and a relay reading past 10
  would skip it forever; appends therefore take a transaction-scoped advisory
  lock, so positions become visible in order. SQLite has one writer anyway.
"""
from __future__ import annotations

import weakref
from collections import Counter
from datetime import datetime, timezone
from functools import cache, lru_cache
from itertools import chain, count
from typing import Iterable, Iterator, NamedTuple, Sequence

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    bindparam,
    func,
    insert,
    select,
    text,
    type_coerce,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import IntegrityError

from . import jsontext
from .events import DomainEvent, Metadata, RecordedEvent
from .schema import dataclass_builder, fast_dumper, fast_loader

kernel_metadata = MetaData()

# `position` is the rowid on SQLite (INTEGER PRIMARY KEY) and a bigserial on PostgreSQL.
events_table = Table(
    "events",
    kernel_metadata,
    Column("position", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("stream_id", String(200), nullable=False),
    Column("version", Integer, nullable=False),
    Column("event_id", String(36), nullable=False, unique=True),
    Column("event_type", String(200), nullable=False),
    Column("schema_version", Integer, nullable=False),
    Column("data", Text, nullable=False),
    Column("meta", Text, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)
# The stream index is the concurrency check: a duplicate (stream, version) fails.
Index("ix_events_stream_version", events_table.c.stream_id, events_table.c.version, unique=True)

# How far a named reader (the outbox relay) has got through `events.position`.
cursors_table = Table(
    "event_cursors",
    kernel_metadata,
    Column("name", String(100), primary_key=True),
    Column("position", BigInteger, nullable=False),
)

# Events this service has consumed from others, recorded in the same
# transaction as their effect: a redelivery finds its id and does nothing.
processed_table = Table(
    "processed_messages",
    kernel_metadata,
    Column("consumer", String(200), nullable=False),
    Column("event_id", String(36), nullable=False),
    Column("processed_at", DateTime(timezone=True), nullable=False),
    PrimaryKeyConstraint("consumer", "event_id"),
)

# The newest version of each foreign stream a consumer has applied, so that an
# older event arriving late (reordering) cannot overwrite newer state.
checkpoints_table = Table(
    "stream_checkpoints",
    kernel_metadata,
    Column("consumer", String(200), nullable=False),
    Column("stream_id", String(200), nullable=False),
    Column("version", Integer, nullable=False),
    PrimaryKeyConstraint("consumer", "stream_id"),
)

_APPEND_LOCK_KEY = 7_283_001  # arbitrary, constant: one append lock per database
_LOCK_HELD_BY = "umpnet_append_lock_held_by"  # key in the DBAPI connection's `info`


def lock_appends(conn: Connection) -> None:
    """Hold the database's append lock until this transaction ends (PostgreSQL).

    SQLite needs nothing: a write transaction there already excludes all others.
    Taken once per transaction: an import appending to many streams would
    otherwise pay a round trip per stream for a lock it already holds. The
    innermost transaction is remembered, so after a rolled-back savepoint
    (which releases a lock taken inside it) the lock is taken again.
    """
    if conn.dialect.name != "postgresql":
        return
    held_by = conn.info.get(_LOCK_HELD_BY)
    current = conn.get_nested_transaction() or conn.get_transaction()
    if current is not None and held_by is not None and held_by() is current:
        return
    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _APPEND_LOCK_KEY})
    current = conn.get_nested_transaction() or conn.get_transaction()
    conn.info[_LOCK_HELD_BY] = weakref.ref(current)


class ConcurrencyError(Exception):
    """Another writer appended to the stream first; reload and try again.

    `streams` holds the (stream_id, expected_version) of every stream in the
    INSERT that failed. The database does not say which of them clashed, so
    when there were several, `stream_id` and `expected_version` are None.
    """

    def __init__(
        self,
        stream_id: str | None,
        expected_version: int | None,
        streams: Sequence[tuple[str, int]] = (),
    ):
        self.stream_id = stream_id
        self.expected_version = expected_version
        self.streams = list(streams) or [(stream_id, expected_version)]
        if stream_id is not None:
            message = f"stream {stream_id!r} is no longer at version {expected_version}"
        else:
            shown = ", ".join(f"{s!r} at {v}" for s, v in self.streams[:5])
            more = f" and {len(self.streams) - 5} more" if len(self.streams) > 5 else ""
            message = f"one of these streams is no longer at the version expected: {shown}{more}"
        super().__init__(message)


def _encode_meta(meta: Metadata) -> str:
    return jsontext.encode(
        {
            "event_id": meta.event_id,
            "occurred_at": meta.occurred_at.isoformat(),
            "actor_id": meta.actor_id,
            "correlation_id": meta.correlation_id,
            "causation_id": meta.causation_id,
        }
    )


# Metadata and RecordedEvent are frozen dataclasses: built field by field
# through object.__setattr__ they cost more than the JSON they come from.
_new_metadata = dataclass_builder(Metadata) or (lambda values: Metadata(**values))
_new_recorded = dataclass_builder(RecordedEvent) or (lambda values: RecordedEvent(**values))


def _decode_meta(raw: str) -> Metadata:
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


def _encode_data(event: DomainEvent) -> str:
    cls = type(event)
    if cls.to_data is DomainEvent.to_data:
        # the schema's dump without marshmallow's per-field calls (see schema.fast_dumper)
        return jsontext.encode(fast_dumper(cls)(event))
    return jsontext.encode(event.to_data())  # the class serialises itself


@cache
def _current_version_loader(cls: type[DomainEvent]):
    """`cls.from_data` for payloads stored at the class's current version.

    Skips the upcasting loop and from_data's function-level import, which add up
    over a rebuild; a class with its own from_data keeps it.
    """
    if cls.from_data.__func__ is not DomainEvent.from_data.__func__:
        return cls.from_data
    return fast_loader(cls)


def _recorded_at(value) -> datetime:
    """recorded_at as read by `_READ_COLUMNS`, with its zone.

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


def _recorded(position, stream_id, version, event_type, schema_version, data, meta, recorded_at) -> RecordedEvent:
    cls = DomainEvent.lookup(event_type)
    payload = jsontext.decode(data)
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
            "meta": _decode_meta(meta),
            "recorded_at": _recorded_at(recorded_at),
        }
    )


# The columns `_read` selects, in the order `_recorded` takes them. recorded_at
# comes back untouched (text on SQLite, a datetime from psycopg2), for `_recorded_at`.
_READ_COLUMNS = tuple(
    events_table.c[name]
    for name in ("position", "stream_id", "version", "event_type", "schema_version", "data", "meta")
) + (type_coerce(events_table.c.recorded_at, String).label("recorded_at"),)


def _read(conn: Connection, query, parameters: dict | None = None) -> list[RecordedEvent]:
    # fetchall in one call, rather than a fetchone per row through the result's iterator
    return [_recorded(*row) for row in conn.execute(query, parameters).all()]


# Every command loads its aggregates' streams: built once, values bound per
# call (a statement built per call cost SQLAlchemy more than running it).
_LOAD_STREAM = (
    select(*_READ_COLUMNS)
    .where(events_table.c.stream_id == bindparam("stream_id"), events_table.c.version > bindparam("after_version"))
    .order_by(events_table.c.version)
)
_LOAD_STREAMS = (
    select(*_READ_COLUMNS)
    .where(events_table.c.stream_id.in_(bindparam("stream_ids", expanding=True)))
    .order_by(events_table.c.stream_id, events_table.c.version)
)
_STREAMS_PER_QUERY = 500
_STREAM_VERSION = select(func.max(events_table.c.version)).where(events_table.c.stream_id == bindparam("stream_id"))


# -- the append statement ----------------------------------------------------
_INSERT_COLUMNS = (
    "stream_id", "version", "event_id", "event_type", "schema_version", "data", "meta", "recorded_at",
)
# SQLite allows 32,766 parameters per statement, PostgreSQL 65,535: 8 a row.
_ROWS_PER_INSERT = 500
# pysqlite uses "?"; psycopg2 (and psycopg, pg8000) take "%s".
_POSITIONAL_MARKERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}


@lru_cache(maxsize=256)
def _insert_sql(dialect: Dialect, rows: int) -> str:
    """One multi-row INSERT ... RETURNING position, stream_id, version.

    Written out rather than built by SQLAlchemy's insert(): compiling and
    processing its parameters cost more than the database's own work for a
    small append. RETURNING the stream and version lets us pair each position
    with its row whatever order the database returns them in.
    """
    quote = dialect.identifier_preparer.quote
    marker = _POSITIONAL_MARKERS[dialect.paramstyle]
    row = "(" + ", ".join([marker] * len(_INSERT_COLUMNS)) + ")"
    return (
        f"INSERT INTO {quote(events_table.name)} ({', '.join(quote(c) for c in _INSERT_COLUMNS)}) "
        f"VALUES {', '.join([row] * rows)} RETURNING {quote('position')}, {quote('stream_id')}, {quote('version')}"
    )


@lru_cache(maxsize=16)
def _recorded_at_binder(dialect: Dialect):
    # SQLite stores DateTime as text in SQLAlchemy's format: use SQLAlchemy's own converter.
    column_type = events_table.c.recorded_at.type.dialect_impl(dialect)
    return column_type.bind_processor(dialect) or (lambda value: value)


def _insert_events(
    conn: Connection, rows: list[tuple], expected_versions: dict[str, int]
) -> dict[tuple[str, int], int]:
    """Insert event rows (in `_INSERT_COLUMNS` order); {(stream_id, version): position}.

    A unique violation raises `ConcurrencyError` naming the streams of the
    statement that failed (`expected_versions` gives their versions).
    """
    dialect = conn.dialect
    positions: dict[tuple[str, int], int] = {}
    for start in range(0, len(rows), _ROWS_PER_INSERT):
        chunk = rows[start : start + _ROWS_PER_INSERT]
        parameters = tuple(chain.from_iterable(chunk))
        try:
            result = conn.exec_driver_sql(_insert_sql(dialect, len(chunk)), parameters)
        except IntegrityError as exc:
            in_chunk = dict.fromkeys(row[0] for row in chunk)  # in row order, once each
            streams = [(stream_id, expected_versions[stream_id]) for stream_id in in_chunk]
            alone = streams[0] if len(streams) == 1 else (None, None)
            raise ConcurrencyError(*alone, streams) from exc
        positions.update(((stream_id, version), position) for position, stream_id, version in result.all())
    return positions


class StreamAppend(NamedTuple):
    """Events to append to one stream after `expected_version` (0 for a new stream)."""

    stream_id: str
    expected_version: int
    events: Sequence[DomainEvent]
    metas: Sequence[Metadata]


class EventStore:
    """Append to and read from the `events` table, inside the caller's transaction."""

    def append(
        self,
        conn: Connection,
        stream_id: str,
        expected_version: int,
        events: Sequence[DomainEvent],
        metas: Sequence[Metadata],
    ) -> list[RecordedEvent]:
        """Append `events` after `expected_version` (0 for a new stream).

        Raises `ConcurrencyError` if the stream moved on; the caller's
        transaction is then unusable and must be rolled back.
        """
        return self.append_many(conn, [StreamAppend(stream_id, expected_version, events, metas)])[0]

    def append_many(self, conn: Connection, appends: Sequence[StreamAppend]) -> list[list[RecordedEvent]]:
        """Append to several streams at once: one multi-row INSERT for all their
        events (one per `_ROWS_PER_INSERT` rows), rather than a statement, and
        a round trip, per stream.

        `appends` are (stream_id, expected_version, events, metas), as
        `StreamAppend`s or plain tuples. Returns each one's recorded events,
        in the order given; positions follow that order.

        A stream may appear only once: two appends to one stream in one call
        are the caller's mistake, not a race to retry (ValueError). Raises
        `ConcurrencyError` if any of the streams moved on; the caller's
        transaction is then unusable and must be rolled back, which undoes
        the whole call.
        """
        expected_versions = {stream_id: expected_version for stream_id, expected_version, _, _ in appends}
        if len(expected_versions) < len(appends):
            twice = [s for s, n in Counter(append[0] for append in appends).items() if n > 1]
            raise ValueError(f"streams appended to twice in one call: {', '.join(map(repr, twice))}")
        now = datetime.now(timezone.utc)
        stored_now = _recorded_at_binder(conn.dialect)(now)
        rows = [
            (
                stream_id,
                expected_version + i,
                meta.event_id,
                event.event_name,
                event.event_version,
                _encode_data(event),
                _encode_meta(meta),
                stored_now,
            )
            for stream_id, expected_version, events, metas in appends
            for i, (event, meta) in enumerate(zip(events, metas, strict=True), start=1)
        ]
        if not rows:
            return [[] for _ in appends]
        lock_appends(conn)
        positions = _insert_events(conn, rows, expected_versions)
        return [
            [
                _new_recorded(
                    {
                        "position": positions[stream_id, version],
                        "stream_id": stream_id,
                        "version": version,
                        "event": event,
                        "meta": meta,
                        "recorded_at": now,
                    }
                )
                for version, event, meta in zip(count(expected_version + 1), events, metas)
            ]
            for stream_id, expected_version, events, metas in appends
        ]

    def load_stream(self, conn: Connection, stream_id: str, after_version: int = 0) -> list[RecordedEvent]:
        return _read(conn, _LOAD_STREAM, {"stream_id": stream_id, "after_version": after_version})

    def load_streams(self, conn: Connection, stream_ids: Iterable[str]) -> dict[str, list[RecordedEvent]]:
        """Several whole streams in one query (per `_STREAMS_PER_QUERY`), rather
        than one per stream: {stream_id: its events in version order}; a stream
        with no events is absent."""
        stream_ids = list(dict.fromkeys(stream_ids))
        streams: dict[str, list[RecordedEvent]] = {}
        for start in range(0, len(stream_ids), _STREAMS_PER_QUERY):
            chunk = stream_ids[start : start + _STREAMS_PER_QUERY]
            for record in _read(conn, _LOAD_STREAMS, {"stream_ids": chunk}):
                streams.setdefault(record.stream_id, []).append(record)
        return streams

    def stream_version(self, conn: Connection, stream_id: str) -> int:
        return conn.execute(_STREAM_VERSION, {"stream_id": stream_id}).scalar() or 0

    def read_all(
        self,
        conn: Connection,
        after_position: int = 0,
        limit: int | None = None,
        event_types: Iterable[str] | None = None,
    ) -> list[RecordedEvent]:
        query = (
            select(*_READ_COLUMNS)
            .where(events_table.c.position > after_position)
            .order_by(events_table.c.position)
        )
        if event_types is not None:
            query = query.where(events_table.c.event_type.in_(sorted(event_types)))
        if limit is not None:
            query = query.limit(limit)
        return _read(conn, query)

    def iter_all(
        self, conn: Connection, batch_size: int = 5000, event_types: Iterable[str] | None = None
    ) -> Iterator[RecordedEvent]:
        """Every event in position order, fetched in batches (for rebuilds).

        One query whose rows are streamed (a server-side cursor on PostgreSQL),
        not one `position > n ... LIMIT` query per batch: until its statistics
        were fresh, PostgreSQL answered each of those by sorting the whole table.
        """
        query = select(*_READ_COLUMNS).order_by(events_table.c.position)
        if event_types is not None:
            query = query.where(events_table.c.event_type.in_(sorted(event_types)))
        result = conn.execute(query.execution_options(yield_per=batch_size))
        for rows in result.partitions():
            yield from [_recorded(*row) for row in rows]

    def head_position(self, conn: Connection) -> int:
        return conn.execute(select(func.max(events_table.c.position))).scalar() or 0

    def count(self, conn: Connection) -> int:
        return conn.execute(select(func.count()).select_from(events_table)).scalar_one()


def get_cursor(conn: Connection, name: str) -> int:
    value = conn.execute(select(cursors_table.c.position).where(cursors_table.c.name == name)).scalar()
    return value or 0


def set_cursor(conn: Connection, name: str, position: int) -> None:
    updated = conn.execute(
        cursors_table.update().where(cursors_table.c.name == name).values(position=position)
    ).rowcount
    if not updated:
        conn.execute(insert(cursors_table).values(name=name, position=position))


def create_kernel_tables(conn: Connection) -> None:
    """For tests and tools; services create these tables in their first migration."""
    kernel_metadata.create_all(conn)
