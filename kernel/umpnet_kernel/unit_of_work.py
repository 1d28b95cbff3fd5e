"""The unit of work: the aggregates one command touches, and the transaction that saves them.

    def deposit(uow):
        account = uow.get(Account, "a1")    # rebuilt from its stream
        account.deposit(5)                   # decides, records MoneyDeposited
        return account.balance               # flushed by the caller: appended, projected

`Application.execute` makes one per attempt, runs the command with it, then
`flush()`es it: every touched aggregate's new events are appended in one
statement and applied to the read models, in the same transaction.

What a unit of work must provide (this one; an in-memory one for tests keeps
the same methods and meanings): `conn`, `store`, `context`, `recorded` (what
was appended, in order), `get`, `get_many`, `add`, `append`, `flush`, and for
consumers `first_delivery` and `advance_checkpoint`.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Iterable, Sequence, TypeVar

from sqlalchemy import Connection, bindparam, insert, select
from sqlalchemy.exc import IntegrityError

from .aggregate import Aggregate
from .events import Context, DomainEvent, RecordedEvent
from .projections import Projection
from .store import EventStore, KeyTaken, checkpoints_table, insert_once, processed_table

A = TypeVar("A", bound=Aggregate)


class UnitOfWork:
    """The aggregates touched by one command, and the transaction that saves them."""

    def __init__(self, conn: Connection, store: EventStore, projections: Sequence[Projection], context: Context,
                 batchers: dict | None = None):
        """`batchers`: where `_batching` keeps what it found of each event type; an
        `Application` hands every unit of work the same one (its projections do not
        change), so that the projections' handled types are looked over once, not per command."""
        self.conn = conn
        self.store = store
        self.context = context
        self._projections = projections
        self._touched: list[Aggregate] = []
        self.recorded: list[RecordedEvent] = []
        self._batchers: dict[type, Projection | None] = {} if batchers is None else batchers

    def get(self, cls: type[A], id: str) -> A | None:
        """The aggregate rebuilt from its stream, or None if it has no events.

        Asked twice, it answers the same object: two copies of one aggregate,
        both changed, would be two appends to one stream at the same version.
        """
        held = self._held(cls, id)
        if held is not None:
            return held
        return self._rehydrated(cls, id, self.store.load_stream(self.conn, cls.stream_id_for(id)))

    def get_many(self, cls: type[A], ids: Iterable[str], *, hold: bool = True) -> dict[str, A]:
        """`get` for several aggregates of one class, their streams read in one
        query: {id: aggregate}, without the ids that have no events.

        `hold=False` leaves the loaded ones out of the unit of work: a caller
        deciding a batch `add`s each where its item's own `get` would have, so
        that their events are appended in the one-by-one order."""
        found: dict[str, A] = {}
        to_load: list[str] = []
        for id in dict.fromkeys(ids):
            held = self._held(cls, id)
            if held is not None:
                found[id] = held
            else:
                to_load.append(id)
        streams = self.store.load_streams(self.conn, [cls.stream_id_for(id) for id in to_load])
        for id in to_load:
            records = streams.get(cls.stream_id_for(id))
            if records:
                found[id] = aggregate = cls.rehydrate(id, (r.event for r in records))
                if hold:
                    self.add(aggregate)
        return found

    def _held(self, cls: type[A], id: str) -> A | None:
        stream_id = cls.stream_id_for(id)
        for touched in self._touched:
            if type(touched) is cls and touched.stream_id == stream_id:
                return touched
        return None

    def _rehydrated(self, cls: type[A], id: str, records: list[RecordedEvent]) -> A | None:
        if not records:
            return None
        aggregate = cls.rehydrate(id, (r.event for r in records))
        self.add(aggregate)
        return aggregate

    def add(self, aggregate: Aggregate) -> None:
        if aggregate not in self._touched:
            self._touched.append(aggregate)

    def append(self, stream_id: str, expected_version: int, events: Sequence[DomainEvent]) -> list[RecordedEvent]:
        """Append events to a stream directly and project them (for streams with no aggregate)."""
        metas = [self.context.metadata() for _ in events]
        recorded = self.store.append(self.conn, stream_id, expected_version, events, metas)
        self._project(recorded)
        return recorded

    def flush(self) -> None:
        """Append every touched aggregate's pending events, then project them.

        All streams in one `append_many` (one INSERT rather than one per
        aggregate); projected aggregate by aggregate, event by event, as added
        (`_project`).
        """
        appends = []
        for aggregate in self._touched:
            if aggregate.pending:
                base_version, events = aggregate.collect_pending()
                metas = [self.context.metadata() for _ in events]
                appends.append((aggregate.stream_id, base_version, events, metas))
        self._project([record for recorded in self.store.append_many(self.conn, appends) for record in recorded])

    def _project(self, recorded: list[RecordedEvent]) -> None:
        """Each record to every projection, in order. A run of consecutive records
        that only one projection handles, one that batches (`Projection.apply_many`),
        goes to it in one call: the same order for it, and no other sees them."""
        start = 0
        while start < len(recorded):
            batching = self._batching(type(recorded[start].event))
            end = start + 1
            if batching is not None:
                while end < len(recorded) and self._batching(type(recorded[end].event)) is batching:
                    end += 1
                self._applying(batching, batching.apply_many, recorded[start:end])
            else:
                for projection in self._projections:
                    self._applying(projection, projection.apply, recorded[start])
            start = end
        self.recorded.extend(recorded)

    def _batching(self, event_type: type) -> Projection | None:
        """The one projection handling `event_type`, if it batches; else None."""
        if event_type not in self._batchers:
            handling = [p for p in self._projections if event_type in p.handled_types()]
            self._batchers[event_type] = (handling[0] if len(handling) == 1 and handling[0].batches else None)
        return self._batchers[event_type]

    def _applying(self, projection: Projection, apply, records) -> None:
        try:
            apply(self.conn, records)
        except IntegrityError as exc:
            if projection.lost_claim(exc):  # see Projection.claims
                raise KeyTaken(f"another transaction took a key of {type(projection).__name__} first") from exc
            raise

    # -- consumers: idempotency and ordering ------------------------------
    def first_delivery(self, consumer: str, event_id: str) -> bool:
        """Record that `consumer` handles `event_id`; False if it already has.

        Recorded in this transaction, with the effect: either both happen or
        neither. Two deliveries handled at once: the second to insert loses a
        race (`KeyTaken`), and is decided again, to False.
        """
        key = {"consumer": consumer, "event_id": event_id}
        if self.conn.execute(_PROCESSED_SELECT, key).first():
            return False
        values = {**key, "processed_at": datetime.now(timezone.utc)}
        insert_once(self.conn, _PROCESSED_INSERT, values, processed_table, ("consumer", "event_id"))
        return True

    def advance_checkpoint(self, consumer: str, stream_id: str, version: int) -> bool:
        """True if `version` is newer than anything `consumer` applied from that stream.

        Lets a consumer ignore an older event that arrives after a newer one.
        """
        key = {"key_consumer": consumer, "key_stream_id": stream_id}
        current = self.conn.execute(_CHECKPOINT_SELECT, key).scalar()
        if current is None:
            values = {"consumer": consumer, "stream_id": stream_id, "version": version}
            insert_once(self.conn, _CHECKPOINT_INSERT, values, checkpoints_table, ("consumer", "stream_id"))
            return True
        if version <= current:
            return False
        self.conn.execute(_CHECKPOINT_UPDATE, {**key, "version": version})
        return True


# Built once, values bound per call: every consumed event runs these, and a
# statement built per call (values inside) cost SQLAlchemy 3-4x more to compile.
_PROCESSED_SELECT = select(processed_table.c.event_id).where(
    processed_table.c.consumer == bindparam("consumer"), processed_table.c.event_id == bindparam("event_id")
)
_PROCESSED_INSERT = insert(processed_table)
_CHECKPOINT_KEY = (
    checkpoints_table.c.consumer == bindparam("key_consumer"),  # not the column names:
    checkpoints_table.c.stream_id == bindparam("key_stream_id"),  # an UPDATE reserves those
)
_CHECKPOINT_SELECT = select(checkpoints_table.c.version).where(*_CHECKPOINT_KEY)
_CHECKPOINT_INSERT = insert(checkpoints_table)
_CHECKPOINT_UPDATE = checkpoints_table.update().where(*_CHECKPOINT_KEY)
