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

import json
from datetime import datetime, timezone
from typing import Iterable, Iterator, Sequence

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
    func,
    insert,
    select,
    text,
)
from sqlalchemy.exc import IntegrityError

from .events import DomainEvent, Metadata, RecordedEvent

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


def lock_appends(conn: Connection) -> None:
    """Hold the database's append lock until this transaction ends (PostgreSQL).

    SQLite needs nothing: a write transaction there already excludes all others.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _APPEND_LOCK_KEY})


class ConcurrencyError(Exception):
    """Another writer appended to the stream first; reload and try again."""

    def __init__(self, stream_id: str, expected_version: int):
        super().__init__(f"stream {stream_id!r} is no longer at version {expected_version}")
        self.stream_id = stream_id
        self.expected_version = expected_version


def _encode_meta(meta: Metadata) -> str:
    return json.dumps(
        {
            "event_id": meta.event_id,
            "occurred_at": meta.occurred_at.isoformat(),
            "actor_id": meta.actor_id,
            "correlation_id": meta.correlation_id,
            "causation_id": meta.causation_id,
        },
        separators=(",", ":"),
    )


def _decode_meta(raw: str) -> Metadata:
    m = json.loads(raw)
    return Metadata(
        event_id=m["event_id"],
        occurred_at=datetime.fromisoformat(m["occurred_at"]),
        actor_id=m.get("actor_id"),
        correlation_id=m.get("correlation_id"),
        causation_id=m.get("causation_id"),
    )


def _as_aware(value: datetime) -> datetime:
    # SQLite hands back naive datetimes; every time we give out has a zone.
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


def row_to_recorded(row) -> RecordedEvent:
    cls = DomainEvent.lookup(row.event_type)
    return RecordedEvent(
        position=row.position,
        stream_id=row.stream_id,
        version=row.version,
        event=cls.from_data(json.loads(row.data), row.schema_version),
        meta=_decode_meta(row.meta),
        recorded_at=_as_aware(row.recorded_at),
    )


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
        if not events:
            return []
        lock_appends(conn)
        now = datetime.now(timezone.utc)
        rows = [
            {
                "stream_id": stream_id,
                "version": expected_version + i,
                "event_id": meta.event_id,
                "event_type": event.event_name,
                "schema_version": event.event_version,
                "data": json.dumps(event.to_data(), separators=(",", ":")),
                "meta": _encode_meta(meta),
                "recorded_at": now,
            }
            for i, (event, meta) in enumerate(zip(events, metas, strict=True), start=1)
        ]
        try:
            statement = insert(events_table).returning(
                events_table.c.position, sort_by_parameter_order=True
            )
            positions = [r[0] for r in conn.execute(statement, rows)]
        except IntegrityError as exc:
            raise ConcurrencyError(stream_id, expected_version) from exc
        return [
            RecordedEvent(
                position=pos,
                stream_id=stream_id,
                version=row["version"],
                event=event,
                meta=meta,
                recorded_at=now,
            )
            for pos, row, event, meta in zip(positions, rows, events, metas)
        ]

    def load_stream(self, conn: Connection, stream_id: str, after_version: int = 0) -> list[RecordedEvent]:
        query = (
            select(events_table)
            .where(events_table.c.stream_id == stream_id, events_table.c.version > after_version)
            .order_by(events_table.c.version)
        )
        return [row_to_recorded(r) for r in conn.execute(query)]

    def stream_version(self, conn: Connection, stream_id: str) -> int:
        query = select(func.max(events_table.c.version)).where(events_table.c.stream_id == stream_id)
        return conn.execute(query).scalar() or 0

    def read_all(
        self,
        conn: Connection,
        after_position: int = 0,
        limit: int | None = None,
        event_types: Iterable[str] | None = None,
    ) -> list[RecordedEvent]:
        query = (
            select(events_table)
            .where(events_table.c.position > after_position)
            .order_by(events_table.c.position)
        )
        if event_types is not None:
            query = query.where(events_table.c.event_type.in_(sorted(event_types)))
        if limit is not None:
            query = query.limit(limit)
        return [row_to_recorded(r) for r in conn.execute(query)]

    def iter_all(
        self, conn: Connection, batch_size: int = 5000, event_types: Iterable[str] | None = None
    ) -> Iterator[RecordedEvent]:
        """Every event in position order, fetched in batches (for rebuilds)."""
        after = 0
        while True:
            batch = self.read_all(conn, after, batch_size, event_types)
            if not batch:
                return
            yield from batch
            after = batch[-1].position

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


def all_kernel_tables() -> Iterable[Table]:
    return kernel_metadata.sorted_tables
