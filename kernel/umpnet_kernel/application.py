"""Running a command: load, decide, append, project, commit, in one transaction.

    def register(uow):
        member = Member.register(...)
        uow.add(member)
        return member.id

    member_id = app.execute(Context(actor_id=...), register)

`execute` retries the whole function when another writer got there first
(`ConcurrencyError`, or a read-model unique constraint on PostgreSQL, which
aborts the transaction), so functions must decide from what they load.
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Callable, Iterable, Sequence, TypeVar

from sqlalchemy import Connection, bindparam, insert, select
from sqlalchemy.exc import IntegrityError

from .aggregate import Aggregate
from .database import Database
from .errors import Conflict
from .events import Context, DomainEvent, RecordedEvent
from .projections import Projection, rebuild
from .store import ConcurrencyError, EventStore, checkpoints_table, processed_table

T = TypeVar("T")
A = TypeVar("A", bound=Aggregate)


class UnitOfWork:
    """The aggregates touched by one command, and the transaction that saves them."""

    def __init__(self, conn: Connection, store: EventStore, projections: Sequence[Projection], context: Context):
        self.conn = conn
        self.store = store
        self.context = context
        self._projections = projections
        self._touched: list[Aggregate] = []
        self.recorded: list[RecordedEvent] = []

    def get(self, cls: type[A], id: str) -> A | None:
        """The aggregate rebuilt from its stream, or None if it has no events.

        Asked twice, it answers the same object: two copies of one aggregate,
        both changed, would be two appends to one stream at the same version.
        """
        held = self._held(cls, id)
        if held is not None:
            return held
        return self._rehydrated(cls, id, self.store.load_stream(self.conn, cls.stream_id_for(id)))

    def get_many(self, cls: type[A], ids: Iterable[str]) -> dict[str, A]:
        """`get` for several aggregates of one class, their streams read in one
        query: {id: aggregate}, without the ids that have no events."""
        found: dict[str, A] = {}
        to_load: list[str] = []
        for id in ids:
            held = self._held(cls, id)
            if held is not None:
                found[id] = held
            else:
                to_load.append(id)
        streams = self.store.load_streams(self.conn, [cls.stream_id_for(id) for id in to_load])
        for id in to_load:
            aggregate = self._rehydrated(cls, id, streams.get(cls.stream_id_for(id), []))
            if aggregate is not None:
                found[id] = aggregate
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
        aggregate); projected aggregate by aggregate, event by event, as added.
        """
        appends = []
        for aggregate in self._touched:
            if aggregate.pending:
                base_version, events = aggregate.collect_pending()
                metas = [self.context.metadata() for _ in events]
                appends.append((aggregate.stream_id, base_version, events, metas))
        for recorded in self.store.append_many(self.conn, appends):
            self._project(recorded)

    def _project(self, recorded: list[RecordedEvent]) -> None:
        for record in recorded:
            for projection in self._projections:
                projection.apply(self.conn, record)
        self.recorded.extend(recorded)

    # -- consumers: idempotency and ordering ------------------------------
    def first_delivery(self, consumer: str, event_id: str) -> bool:
        """Record that `consumer` handles `event_id`; False if it already has.

        Recorded in this transaction, with the effect: either both happen or neither.
        """
        key = {"consumer": consumer, "event_id": event_id}
        if self.conn.execute(_PROCESSED_SELECT, key).first():
            return False
        self.conn.execute(_PROCESSED_INSERT, {**key, "processed_at": datetime.now(timezone.utc)})
        return True

    def advance_checkpoint(self, consumer: str, stream_id: str, version: int) -> bool:
        """True if `version` is newer than anything `consumer` applied from that stream.

        Lets a consumer ignore an older event that arrives after a newer one.
        """
        key = {"key_consumer": consumer, "key_stream_id": stream_id}
        current = self.conn.execute(_CHECKPOINT_SELECT, key).scalar()
        if current is None:
            self.conn.execute(_CHECKPOINT_INSERT, {"consumer": consumer, "stream_id": stream_id, "version": version})
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


MAX_GROUP = 200  # commands in one group commit at most


def _conflict() -> Conflict:
    return Conflict("La ressource a été modifiée entre-temps ; réessayez.")


class _PendingCommand:
    """A command waiting to run in the next group commit, then its outcome."""

    __slots__ = ("context", "command", "result", "error", "recorded", "done")

    def __init__(self, context: Context, command: Callable):
        self.context, self.command = context, command
        self.result, self.error, self.recorded, self.done = None, None, [], False


class Application:
    """A service's command runner: one store, its projections, commit listeners."""

    def __init__(self, db: Database, projections: Iterable[Projection] = (), max_attempts: int = 5):
        self.db = db
        self.store = EventStore()
        self.projections: list[Projection] = list(projections)
        self.max_attempts = max_attempts
        self._commit_listeners: list[Callable[[list[RecordedEvent]], None]] = []
        self._waiting: list[_PendingCommand] = []  # commands waiting for the next group commit

    def on_commit(self, listener: Callable[[list[RecordedEvent]], None]) -> None:
        """Call `listener(recorded)` after every commit that appended events (wakes the relay)."""
        self._commit_listeners.append(listener)

    def execute(self, context: Context, command: Callable[[UnitOfWork], T]) -> T:
        if self.db.is_sqlite:
            return self._execute_in_group(context, command)
        return self._execute_alone(context, command)

    def execute_once(self, context: Context, use_case: str, command: Callable[[UnitOfWork], T]) -> T:
        """`execute`, but a request that arrives again (same idempotency key)
        answers its first outcome instead of running again (idempotency.py)."""
        if context.idempotency_key:
            from .idempotency import remembered

            command = remembered(use_case, context.idempotency_key, command)
        return self.execute(context, command)

    def _execute_alone(self, context: Context, command: Callable[[UnitOfWork], T]) -> T:
        for attempt in range(1, self.max_attempts + 1):
            try:
                with self.db.write() as conn:
                    uow = UnitOfWork(conn, self.store, self.projections, context)
                    result = command(uow)
                    uow.flush()
            except (ConcurrencyError, IntegrityError):
                # A concurrent writer won (stream version or a unique read-model
                # key): the transaction is rolled back; decide again on fresh state.
                if attempt == self.max_attempts:
                    raise _conflict() from None
                continue
            self._committed(uow.recorded)
            return result
        raise AssertionError("unreachable")

    # -- group commit (SQLite) ---------------------------------------------
    # SQLite has one writer at a time and each commit waits for the disk. So
    # commands that queue up while a commit is under way (it runs in a pool
    # thread, see database.py) are run together in the next transaction, each
    # in its own SAVEPOINT, and share one commit: one fsync for many commands,
    # each still all-or-nothing, each answered only once durable.
    def _execute_in_group(self, context: Context, command: Callable[[UnitOfWork], T]) -> T:
        mine = _PendingCommand(context, command)
        self._waiting.append(mine)
        with self.db.write_lock:
            if not mine.done:  # else an earlier group ran it while we waited
                if mine in self._waiting:
                    self._waiting.remove(mine)
                others = self._waiting[: MAX_GROUP - 1]
                del self._waiting[: len(others)]
                self._commit_group([mine, *others])
        if mine.error is not None:
            raise mine.error
        return mine.result

    def _commit_group(self, group: list["_PendingCommand"]) -> None:
        try:
            with self.db.write_holding_lock() as conn:
                for pending in group:
                    self._run_in_savepoint(conn, pending)
        except BaseException as exc:  # the commit failed (or we were killed): none of it happened
            for pending in group:
                pending.result, pending.recorded = None, []
                pending.error = pending.error or exc
            if not isinstance(exc, Exception):
                raise
        finally:
            for pending in group:
                pending.done = True
        self._committed([r for pending in group for r in pending.recorded])

    def _run_in_savepoint(self, conn: Connection, pending: "_PendingCommand") -> None:
        # SAVEPOINTs are sent straight to SQLite: SQLAlchemy's nested
        # transactions cost more than the savepoints themselves, twice per command.
        driver = conn.connection.driver_connection
        for attempt in range(1, self.max_attempts + 1):
            driver.execute("SAVEPOINT command")
            try:
                uow = UnitOfWork(conn, self.store, self.projections, pending.context)
                result = pending.command(uow)
                uow.flush()
            except (ConcurrencyError, IntegrityError):  # lost a race: decide again, up to a point
                error = _conflict() if attempt == self.max_attempts else None
            except Exception as exc:  # the command refused
                error = exc
            else:
                driver.execute("RELEASE command")
                pending.result, pending.recorded = result, uow.recorded
                return
            driver.execute("ROLLBACK TO command")  # only this command's writes are undone
            driver.execute("RELEASE command")
            if error is not None:
                pending.error = error
                return

    def _committed(self, recorded: list[RecordedEvent]) -> None:
        if recorded:
            for listener in self._commit_listeners:
                listener(recorded)

    def read(self):
        """A read transaction on the read models: `with app.read() as conn:`."""
        return self.db.read()

    def rebuild_read_models(self) -> int:
        """Replay the whole store into emptied read models; returns the events replayed."""
        with self.db.write() as conn:
            return rebuild(conn, self.store, self.projections)
