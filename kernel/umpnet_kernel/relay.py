"""The outbox relay: committed public events to the message bus, in order, at least once.

The store's `position` is the outbox; the relay's cursor (in the same database)
says how far it has published. It advances only after the broker confirmed
the publish, so a crash between commit and publish (or between publish and
cursor update) means the events are published again when the relay resumes:
consumers are idempotent, so nothing is lost and nothing happens twice.

The relay is woken right after each commit of its own process (low latency);
a timer wakes it too, as the safety net for events committed elsewhere (the
CLI, another instance) and for retries after a broker outage.

Two costs are paid per batch, not per event (see bench/event_latency.md):
- `publish_many` writes every message of a batch, then waits for the broker's
  confirms once (one round trip instead of one per event). If the broker fails
  to confirm a message, the relay stops just before it, so what is published
  again starts there, in position order.
- On SQLite, where one process owns the file and runs its only relay, the
  position reached is kept in memory and written to the cursor row at most
  every `cursor_interval` seconds (or `batch_size` events), and when the
  service stops: a cursor write is a write transaction with its fsync, which
  blocks the whole process, and used to cost as much as the event's own
  commit. A crash can only lose the cursor's newest progress, so up to that
  much is published a second time: at least once, as before, with a bounded
  number of duplicates, which consumers already ignore. (On PostgreSQL the
  cursor is claimed and moved in the same transaction as each batch, since
  several instances share it.)
- `gather` (seconds, a couple of milliseconds in a service): when the last
  run published more than one event (events are coming faster than one at a
  time), the relay waits that long before reading what a wake-up is about,
  so the commits that land meanwhile share its read, its publish and its
  confirm, at the price of that wait in their latency. Events that come one
  at a time are not held up. Wake-ups that arrive during the wait are one
  pending wake-up (`BackgroundWorker`), not one run each.
"""
from __future__ import annotations

import time
from typing import Callable, Sequence

from sqlalchemy import Connection, bindparam, select

from . import jsontext
from .database import Database
from .events import DomainEvent, UnknownEventType
from .shredding import open_rows
from .store import EventStore, cursors_table, events_table, get_cursor, set_cursor

OUTBOX_CURSOR = "outbox"


def envelope(row) -> dict:
    """The message body of one stored event, as subscribers receive it."""
    meta = jsontext.decode(row.meta)
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
        "data": jsontext.decode(row.data),
    }


def _is_public(event_type: str) -> bool:
    try:
        return DomainEvent.lookup(event_type).public
    except UnknownEventType:
        return False  # not ours to describe: never publish what we cannot vouch for


class NotConfirmed(Exception):
    """The broker confirmed only the first `confirmed` messages of a batch (the
    exception's `__cause__` says why)."""

    def __init__(self, confirmed: int):
        super().__init__(f"only the first {confirmed} message(s) of the batch were confirmed")
        self.confirmed = confirmed


Message = tuple[str, dict]  # (event_type, body)

# Run after every commit: built once, values bound per call.
_ROWS_AFTER = (
    select(events_table)
    .where(events_table.c.position > bindparam("cursor"))
    .order_by(events_table.c.position)
    .limit(bindparam("batch_size"))
)


class OutboxRelay:
    """Publishes `events` rows after the cursor.

    `publish_many(messages)` must return only once the broker has confirmed
    every message of the list, in order, and raise `NotConfirmed` otherwise.
    """

    def __init__(
        self,
        db: Database,
        batch_size: int = 500,
        *,
        publish_many: Callable[[Sequence[Message]], None],
        cursor_interval: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        gather: float = 0.0,
        sleep: Callable[[float], None] | None = None,
    ):
        self.db = db
        self.publish_many = publish_many
        self.batch_size = batch_size
        self.cursor_interval = cursor_interval
        self.clock = clock
        self.gather = gather
        self._last_run = 0  # events the last publish_pending published (gather only when they had company)
        self.sleep = sleep  # None: time.sleep, looked up when called (green once eventlet patched it)
        self._position: int | None = None  # SQLite: how far we published (None: read the cursor)
        self._saved: int | None = None  # SQLite: what the cursor row says
        self._saved_at = float("-inf")

    def publish_pending(self) -> int:
        """Publish everything committed so far (after `gather` seconds for
        company, if the last run had some); returns how many events were published."""
        if self.gather > 0 and self._last_run > 1:
            (self.sleep or time.sleep)(self.gather)
        total = 0
        try:
            while True:
                published, more = self._publish_batch()
                total += published
                if not more:
                    return total
        finally:
            self._last_run = total

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
            # so commands are not held up by the broker; the cursor row follows
            # the position in memory now and then (see the module docstring).
            with self.db.read() as conn:
                if self._position is None:
                    self._position = self._saved = get_cursor(conn, OUTBOX_CURSOR)
                cursor = self._position
                rows = self._rows_after(conn, cursor)
            last, published, error = self._send(rows, cursor)
            self._position = last
            unsaved = last - self._saved
            if unsaved and (unsaved >= self.batch_size or self.clock() - self._saved_at >= self.cursor_interval):
                self.save_cursor()
        if error is not None:
            raise error  # after keeping the progress made: the rest is retried later
        return published, len(rows) == self.batch_size

    def _rows_after(self, conn: Connection, cursor: int) -> list:
        rows = conn.execute(_ROWS_AFTER, {"cursor": cursor, "batch_size": self.batch_size}).all()
        return open_rows(self.db, conn, rows)  # subscribers get the personal fields in clear (shredding.py)

    def save_cursor(self) -> None:
        """Write the position reached to the cursor row (SQLite; at stop, and now and then)."""
        if self._position is None or self._position == self._saved:
            return
        position = self._position
        with self.db.write() as conn:
            set_cursor(conn, OUTBOX_CURSOR, position)
        self._saved, self._saved_at = position, self.clock()

    def _send(self, rows: list, cursor: int) -> tuple[int, int, Exception | None]:
        """Publish the public rows in order, confirmed as one batch:
        (position reached, published, error). On an error the position reached
        stops just before the first message the broker did not confirm."""
        public = [row for row in rows if _is_public(row.event_type)]
        try:
            if public:
                self.publish_many([(row.event_type, envelope(row)) for row in public])
        except Exception as exc:  # broker down, unconfirmed: stop there, keep order
            confirmed = min(exc.confirmed, len(public)) if isinstance(exc, NotConfirmed) else 0
            error = exc.__cause__ if isinstance(exc, NotConfirmed) and exc.__cause__ is not None else exc
            if confirmed == len(public):
                return rows[-1].position, confirmed, error
            first_unconfirmed = public[confirmed].position
            last = max((row.position for row in rows if row.position < first_unconfirmed), default=cursor)
            return last, confirmed, error
        return (rows[-1].position if rows else cursor), len(public), None

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
            head = EventStore().head_position(conn)
            cursor = get_cursor(conn, OUTBOX_CURSOR)
        if self._position is not None:  # SQLite: newer than the cursor row between two saves
            cursor = max(cursor, self._position)
        return {"head_position": head, "published_position": cursor, "lag": head - cursor}
