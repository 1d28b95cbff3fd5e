"""Running a command: load, decide, append, project, commit, in one transaction.

    def register(uow):
        member = Member.register(...)
        uow.add(member)
        return member.id

    member_id = app.execute(Context(actor_id=...), register)

`execute` runs the function with a fresh `UnitOfWork`, flushes it and
commits. When another writer got there first (`ConcurrencyError`: a stream
is no longer at the version the command read; or `KeyTaken`: a consumed
message, a command's outcome or a key a projection `claims` recorded
meanwhile) the transaction is rolled back and the whole function runs again
on fresh state, so functions must decide from what they load; after
`max_attempts` the command fails with a `Conflict`. Any other error, any
other IntegrityError of a read model included (a bug, not a race), rolls
back and is raised as it is, at once.

On SQLite, commands that queue up while a commit waits for the disk share
the next commit (`sqlite.GroupCommit`), each still all-or-nothing.

`execute_many` runs several commands, each with its own context and unit of
work, in one transaction that commits all of them or none: a subscriber's
batch of messages (`nameko.subscriber`). If one fails the whole batch is
rolled back and the error raised; the caller runs them again one by one.
"""
from __future__ import annotations

from typing import Callable, Iterable, Sequence, TypeVar

from sqlalchemy import Connection

from .database import Database
from .errors import CHANGED_MEANWHILE, Conflict
from .events import Context, RecordedEvent
from .projections import Projection, rebuild
from .sqlite import GroupCommit
from .store import ConcurrencyError, EventStore, KeyTaken
from .unit_of_work import UnitOfWork

T = TypeVar("T")

LOST_RACES = (ConcurrencyError, KeyTaken)  # decided again; nothing else is


def _conflict() -> Conflict:
    return Conflict(CHANGED_MEANWHILE)


class Application:
    """A service's command runner: one store, its projections, commit listeners."""

    def __init__(self, db: Database, projections: Iterable[Projection] = (), max_attempts: int = 5,
                 shredder=None):
        """`shredder` (`shredding.Shredder`): personal fields are stored encrypted
        per subject; the relay of this database opens them for subscribers."""
        self.db = db
        self.store = EventStore(shredder)
        if shredder is not None:
            db.shredder = shredder  # shredding.open_rows: the relay publishes opened events
        self.projections: list[Projection] = list(projections)
        self._batchers: dict = {}  # UnitOfWork._batching's findings, shared by every unit of work
        self.max_attempts = max_attempts
        self._commit_listeners: list[Callable[[list[RecordedEvent]], None]] = []
        self._group_commit = (
            GroupCommit(db, attempts=max_attempts, lost_race=LOST_RACES, gave_up=_conflict, committed=self._committed)
            if db.is_sqlite
            else None
        )

    def on_commit(self, listener: Callable[[list[RecordedEvent]], None]) -> None:
        """Call `listener(recorded)` after every commit that appended events (wakes the relay)."""
        self._commit_listeners.append(listener)

    def execute(self, context: Context, command: Callable[[UnitOfWork], T]) -> T:
        def run(conn: Connection) -> tuple[T, list[RecordedEvent]]:
            uow = UnitOfWork(conn, self.store, self.projections, context, self._batchers)
            result = command(uow)
            uow.flush()
            return result, uow.recorded

        return self._run(run)

    def _run(self, run: Callable[[Connection], tuple[T, list[RecordedEvent]]]) -> T:
        if self._group_commit is not None:
            return self._group_commit.execute(run)
        for attempt in range(1, self.max_attempts + 1):
            try:
                with self.db.write() as conn:
                    result, recorded = run(conn)
            except LOST_RACES:  # rolled back: decide again on fresh state
                if attempt == self.max_attempts:
                    raise _conflict() from None
                continue
            self._committed(recorded)
            return result
        raise AssertionError("unreachable")

    def execute_many(self, commands: Sequence[tuple[Context, Callable[[UnitOfWork], T]]]) -> list[T]:
        """Run `(context, command)` pairs in order in ONE transaction, each with
        its own unit of work (a later command sees what the earlier ones wrote);
        returns their results. All or nothing: any error rolls every command
        back and is raised as it is; a lost race runs them all again."""

        def run(conn: Connection) -> tuple[list[T], list[RecordedEvent]]:
            results, recorded = [], []
            for context, command in commands:
                uow = UnitOfWork(conn, self.store, self.projections, context, self._batchers)
                results.append(command(uow))
                uow.flush()
                recorded.extend(uow.recorded)
            return results, recorded

        return self._run(run)

    def execute_once(self, context: Context, use_case: str, command: Callable[[UnitOfWork], T]) -> T:
        """`execute`, but a request that arrives again (same idempotency key)
        answers its first outcome instead of running again (idempotency.py)."""
        if context.idempotency_key:
            from .idempotency import remembered

            command = remembered(use_case, context.idempotency_key, command)
        return self.execute(context, command)

    def _committed(self, recorded: list[RecordedEvent]) -> None:
        if recorded:
            for listener in self._commit_listeners:
                listener(recorded)

    def read(self):
        """A read transaction on the read models: `with app.read() as conn:`."""
        return self.db.read()

    def query(self, context: Context, reading: Callable[[UnitOfWork], T]) -> T:
        """`reading(uow)` in a read transaction: aggregates load as in `execute`, and nothing
        may be recorded (a use case that only decides what it would refuse, say). No write
        lock is taken: on SQLite it does not wait behind the writers' group commit."""
        with self.read() as conn:
            uow = UnitOfWork(conn, self.store, (), context, self._batchers)
            answer = reading(uow)
            if any(aggregate.pending for aggregate in uow._touched):
                raise RuntimeError("a query recorded events: use execute")
        return answer

    def rebuild_read_models(self) -> int:
        """Replay the whole store into emptied read models; returns the events replayed."""
        with self.db.write() as conn:
            return rebuild(conn, self.store, self.projections)
