"""The outbox relay: committed public events to the message bus, in order, at least once.

The store's `position` is the outbox; the relay's cursor (in the same database)
says how far it has published. It advances only after the broker confirmed
the publish, so a crash between commit and publish (or between publish and
cursor update) means the events are published again when the relay resumes:
consumers are idempotent, so nothing is lost and nothing happens twice.

The relay is woken right after each commit of its own process (low latency);
a timer wakes it too, as the safety net for events committed elsewhere (the
CLI, another instance) and for retries after a broker outage.
"""
from __future__ import annotations

import json
from typing import Callable

from sqlalchemy import Connection, func, select

from .database import Database
from .events import DomainEvent, UnknownEventType
from .store import cursors_table, events_table, get_cursor, set_cursor

OUTBOX_CURSOR = "outbox"


def envelope(row) -> dict:
    """The message body of one stored event, as subscribers receive it."""
    meta = json.loads(row.meta)
    return {
        "event_id": row.event_id,
        "event_type": row.event_type,
        "schema_version": row.schema_version,
        "stream_id": row.stream_id,
        "stream_version": row.version,
        "position": row.position,
        "occurred_at": meta["occurred_at"],
        "actor_id": meta.get("actor_id"),
        "correlation_id": meta.get("correlation_id"),
        "causation_id": meta.get("causation_id"),
        "data": json.loads(row.data),
    }


def _is_public(event_type: str) -> bool:
    try:
        return DomainEvent.lookup(event_type).public
    except UnknownEventType:
        return False  # not ours to describe: never publish what we cannot vouch for


class OutboxRelay:
    """Publishes `events` rows after the cursor; `publish(event_type, body)` must
    return only once the broker has confirmed the message, and raise otherwise."""

    def __init__(self, db: Database, publish: Callable[[str, dict], None], batch_size: int = 500):
        self.db = db
        self.publish = publish
        self.batch_size = batch_size

    def publish_pending(self) -> int:
        """Publish everything committed so far; returns how many events were published."""
        total = 0
        while True:
            published, more = self._publish_batch()
            total += published
            if not more:
                return total

    def _publish_batch(self) -> tuple[int, bool]:
        if self.db.is_postgresql:
            # Several instances may run a relay: the row lock on the cursor lets
            # one publish a batch at a time, in order, without duplicates.
            with self.db.write() as conn:
                cursor = self._claim_cursor(conn)
                rows = self._rows_after(conn, cursor)
                last, published, error = self._send(rows, cursor)
                if last != cursor:
                    set_cursor(conn, OUTBOX_CURSOR, last)
        else:
            # SQLite: one process owns the file. Publish outside the write lock
            # so commands are not held up by the broker, then move the cursor.
            with self.db.read() as conn:
                cursor = get_cursor(conn, OUTBOX_CURSOR)
                rows = self._rows_after(conn, cursor)
            last, published, error = self._send(rows, cursor)
            if last != cursor:
                with self.db.write() as conn:
                    set_cursor(conn, OUTBOX_CURSOR, last)
        if error is not None:
            raise error  # after keeping the progress made: the rest is retried later
        return published, len(rows) == self.batch_size

    def _rows_after(self, conn: Connection, cursor: int) -> list:
        query = (
            select(events_table)
            .where(events_table.c.position > cursor)
            .order_by(events_table.c.position)
            .limit(self.batch_size)
        )
        return list(conn.execute(query))

    def _send(self, rows: list, cursor: int) -> tuple[int, int, Exception | None]:
        """Publish rows in order until one fails: (position reached, published, error)."""
        last, published = cursor, 0
        for row in rows:
            if _is_public(row.event_type):
                try:
                    self.publish(row.event_type, envelope(row))
                except Exception as exc:  # broker down, unconfirmed: stop here, keep order
                    return last, published, exc
                published += 1
            last = row.position
        return last, published, None

    def _claim_cursor(self, conn: Connection) -> int:
        query = select(cursors_table.c.position).where(cursors_table.c.name == OUTBOX_CURSOR)
        position = conn.execute(query.with_for_update()).scalar()
        if position is None:
            set_cursor(conn, OUTBOX_CURSOR, 0)
            position = conn.execute(query.with_for_update()).scalar()
        return position

    def lag(self) -> dict:
        """How far the relay is behind the store (for `umpnet status`)."""
        with self.db.read() as conn:
            head = conn.execute(select(func.max(events_table.c.position))).scalar() or 0
            cursor = get_cursor(conn, OUTBOX_CURSOR)
        return {"head_position": head, "published_position": cursor, "lag": head - cursor}
