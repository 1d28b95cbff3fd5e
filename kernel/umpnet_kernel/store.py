"""The append-only event store, one per service database.

- Optimistic concurrency by the key `(stream_id, version)`: two writers that
  read the same version of a stream cannot both append; the second gets
  `ConcurrencyError` and its whole transaction is rolled back. That is the only
  integrity error the store calls a race: any other (a duplicate event id, a
  NULL) is a bug, and is raised as the database's IntegrityError.
- `position` is a global, gap-free-when-committed sequence that orders every
  event of the service. It doubles as the outbox: the relay publishes by
  position (see `relay.py`). On PostgreSQL appends take the append lock
  (`postgres.lock_appends`), so positions become visible in order; SQLite has
  one writer anyway.

What a store must provide (`EventStore` here, on SQLite and PostgreSQL; an
in-memory one for tests keeps the same methods and meanings; `conn` is the
caller's transaction, and nothing is visible to others before it commits):

    append(conn, stream_id, expected_version, events, metas) -> [RecordedEvent]
    append_many(conn, [(stream_id, expected_version, events, metas), ...]) -> [[RecordedEvent], ...]
        versions follow `expected_version` (0 for a new stream) one by one;
        positions are new, increasing, in the order given; ConcurrencyError if
        a stream is no longer at its expected version (nothing of the call is
        kept: the caller rolls back); ValueError for one stream given twice.
    load_stream(conn, stream_id, after_version=0) -> [RecordedEvent]  by version
    load_streams(conn, stream_ids) -> {stream_id: [RecordedEvent]}     streams with no event absent
    stream_version(conn, stream_id) -> int                            0 for no stream
    read_all(conn, after_position=0, limit=None, event_types=None) -> [RecordedEvent]  by position
    iter_all(conn, batch_size=5000, event_types=None) -> iterator     by position (rebuilds)
    head_position(conn) -> int,  count(conn) -> int
    redact_clear_events(conn, subject) -> int    at erasure: the subject's events stored in clear
                                                 (before sealing existed) overwritten in place
    shredder                                     `shredding.Shredder` or None: personal fields
                                                 sealed per subject at append, opened at load

Events come back equal to those appended (upcast to their class's current
version), with their `Metadata` and a zoned `recorded_at`.

The plain story is told here; the encoding of rows and the one multi-row
INSERT that appends them are in `fast.py`, the append lock in `postgres.py`.
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timezone
from itertools import count
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
    type_coerce,
)
from sqlalchemy.exc import IntegrityError

from .database import violates_unique_key
from .events import DomainEvent, Metadata, RecordedEvent
from . import jsontext
from .fast import encode_event, encode_meta, event_data, insert_returning, new_recorded, recorded_from_row, stored_value
from .postgres import lock_appends

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


class KeyTaken(Exception):
    """Another transaction inserted the same unique key first (a message marked
    consumed, a command's outcome, a key a projection claims): a race, like a
    stream's, decided again on fresh state. Raised by `insert_once` and the
    unit of work."""


def insert_once(conn: Connection, statement, values: dict, table: Table, key: tuple[str, ...]) -> None:
    """Run an INSERT of one row whose `key` must be unique in `table`; a
    duplicate raises `KeyTaken` (any other violation stays an IntegrityError).
    On PostgreSQL the transaction is then aborted: the caller rolls back."""
    try:
        conn.execute(statement, values)
    except IntegrityError as exc:
        if violates_unique_key(exc, table, key):
            raise KeyTaken(f"another transaction wrote this {table.name} row first") from exc
        raise


class StreamAppend(NamedTuple):
    """Events to append to one stream after `expected_version` (0 for a new stream)."""

    stream_id: str
    expected_version: int
    events: Sequence[DomainEvent]
    metas: Sequence[Metadata]


# -- reading -------------------------------------------------------------------
# The columns every read selects, in the order `fast.recorded_from_row` takes
# them. recorded_at comes back untouched (text on SQLite, a datetime from
# psycopg2): SQLAlchemy's converter cost more than `fast.recorded_at`.
_READ_COLUMNS = tuple(
    events_table.c[name]
    for name in ("position", "stream_id", "version", "event_type", "schema_version", "data", "meta")
) + (type_coerce(events_table.c.recorded_at, String).label("recorded_at"),)


def _read(conn: Connection, query, parameters: dict | None = None, shredder=None) -> list[RecordedEvent]:
    # fetchall in one call, rather than a fetchone per row through the result's iterator
    return _recorded(conn, conn.execute(query, parameters).all(), shredder)


def _recorded(conn: Connection, rows, shredder) -> list[RecordedEvent]:
    if shredder is not None:
        # only the sealed payloads are opened, all the batch's keys in one query (shredding.py)
        texts = [row[5] for row in rows]
        opened = shredder.open_sealed(conn, texts)
        if opened is not texts:
            return [recorded_from_row(*row[:5], data, *row[6:]) for row, data in zip(rows, opened)]
    return [recorded_from_row(*row) for row in rows]


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


# -- appending -----------------------------------------------------------------
_INSERT_COLUMNS = (
    "stream_id", "version", "event_id", "event_type", "schema_version", "data", "meta", "recorded_at",
)
# RETURNING the stream and version pairs each position with its row, whatever
# order the database returns them in.
_RETURNING = ("position", "stream_id", "version")
# SQLite allows 32,766 parameters per statement, PostgreSQL 65,535: 8 a row.
_ROWS_PER_INSERT = 500
_STREAM_KEY = ("stream_id", "version")  # the unique index the concurrency check rests on


def _insert_events(
    conn: Connection, rows: list[tuple], expected_versions: dict[str, int]
) -> dict[tuple[str, int], int]:
    """Insert event rows (in `_INSERT_COLUMNS` order); {(stream_id, version): position}.

    A violation of the stream key raises `ConcurrencyError` naming the streams
    of the statement that failed (`expected_versions` gives their versions).
    """
    positions: dict[tuple[str, int], int] = {}
    for start in range(0, len(rows), _ROWS_PER_INSERT):
        chunk = rows[start : start + _ROWS_PER_INSERT]
        try:
            returned = insert_returning(conn, events_table, _INSERT_COLUMNS, chunk, _RETURNING)
        except IntegrityError as exc:
            if not violates_unique_key(exc, events_table, _STREAM_KEY):
                raise  # not a race: a bug, to be seen as one
            in_chunk = dict.fromkeys(row[0] for row in chunk)  # in row order, once each
            streams = [(stream_id, expected_versions[stream_id]) for stream_id in in_chunk]
            alone = streams[0] if len(streams) == 1 else (None, None)
            raise ConcurrencyError(*alone, streams) from exc
        positions.update(((stream_id, version), position) for position, stream_id, version in returned)
    return positions


class EventStore:
    """Append to and read from the `events` table, inside the caller's transaction.

    With a `shredder` (`shredding.Shredder`), events' personal fields are
    stored encrypted with their subject's key and opened as they are read.
    """

    def __init__(self, shredder=None):
        self.shredder = shredder

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
        stored_now = stored_value(conn.dialect, events_table.c.recorded_at, now)
        rows = [
            (
                stream_id,
                expected_version + i,
                meta.event_id,
                event.event_name,
                event.event_version,
                encode_event(event) if self.shredder is None else event,
                encode_meta(meta),
                stored_now,
            )
            for stream_id, expected_version, events, metas in appends
            for i, (event, meta) in enumerate(zip(events, metas, strict=True), start=1)
        ]
        if self.shredder is not None and rows:
            events = [row[5] for row in rows]
            payloads = self.shredder.seal_all(conn, events, [event_data(event) for event in events])
            rows = [(*row[:5], jsontext.encode(payload), *row[6:]) for row, payload in zip(rows, payloads)]
        if not rows:
            return [[] for _ in appends]
        lock_appends(conn)  # PostgreSQL: positions become visible in order
        positions = _insert_events(conn, rows, expected_versions)
        return [
            [
                new_recorded(
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
        return _read(conn, _LOAD_STREAM, {"stream_id": stream_id, "after_version": after_version}, self.shredder)

    def load_streams(self, conn: Connection, stream_ids: Iterable[str]) -> dict[str, list[RecordedEvent]]:
        """Several whole streams in one query (per `_STREAMS_PER_QUERY`), rather
        than one per stream: {stream_id: its events in version order}; a stream
        with no events is absent."""
        stream_ids = list(dict.fromkeys(stream_ids))
        streams: dict[str, list[RecordedEvent]] = {}
        for start in range(0, len(stream_ids), _STREAMS_PER_QUERY):
            chunk = stream_ids[start : start + _STREAMS_PER_QUERY]
            for record in _read(conn, _LOAD_STREAMS, {"stream_ids": chunk}, self.shredder):
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
        return _read(conn, query, None, self.shredder)

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
            yield from _recorded(conn, rows, self.shredder)

    def redact_clear_events(self, conn: Connection, subject: str) -> int:
        """At erasure: overwrite in place the subject's personal fields in events
        stored in clear, before sealing existed (`shredding.redacted`); how many.
        Their old rows' bytes must then go too (`shredding.scrub` with the events)."""
        from .shredding import REDACTED, SEALED, personal_event_types, redacted

        types = personal_event_types()
        if not types:
            return 0
        candidates = conn.execute(
            select(events_table.c.position, events_table.c.event_type, events_table.c.data).where(
                events_table.c.event_type.in_(types), events_table.c.data.contains(subject),
                ~events_table.c.data.contains(SEALED), ~events_table.c.data.contains(REDACTED))
        ).all()
        rewritten = 0
        for position, event_type, raw in candidates:
            new = redacted(event_type, raw, subject)
            if new is not None:
                conn.execute(events_table.update().where(events_table.c.position == position).values(data=new))
                rewritten += 1
        return rewritten

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
