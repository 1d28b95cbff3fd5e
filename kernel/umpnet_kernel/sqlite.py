"""SQLite specifics, beside the core: one writer at a time, each commit waiting for the disk.

Failure modes this module prevents:
- Two greenthreads of one process that both open a write transaction would
  make the second wait on SQLite's busy timeout *inside the OS thread*, which
  stops the eventlet hub, so the first can never commit. Write transactions
  therefore take a green lock first (`write_lock`), and start with BEGIN
  IMMEDIATE so the file lock is taken up front rather than on first write.
- A commit with synchronous=FULL waits for the disk; in the hub's thread it
  would stop every greenthread for that long. It runs in eventlet's thread
  pool (`_commit_in_os_thread`), and the commands that queue up meanwhile
  share the next commit (`GroupCommit`).
- SQLite would create the database file readable by every local account.

Also: `insert_rows`, a rebuild's rows as plain tuples (`fast.bulk_insert`), and
`violates`, whether an IntegrityError is about a given unique key.
"""
from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from datetime import date, datetime, timedelta, timezone
from operator import itemgetter
from typing import Any, Callable

from sqlalchemy import Connection, Table, create_engine, event
from sqlalchemy.engine import URL, Engine
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql import sqltypes

from .green import eventlet_is_patched, run_blocking

log = logging.getLogger(__name__)


def write_lock():
    """The lock every write transaction takes first: yields to other greenthreads when eventlet is live."""
    if eventlet_is_patched():
        from eventlet.semaphore import Semaphore

        return Semaphore(1)
    return threading.Lock()


def engine_for(url: URL, *, echo: bool = False, synchronous: str = "FULL") -> Engine:
    path = url.database
    if path and path != ":memory:" and not path.startswith("file:"):
        _create_private_file(path)
    engine = create_engine(
        url, echo=echo, connect_args={"check_same_thread": False, "timeout": 30, "factory": _SQLiteConnection}
    )
    _configure(engine, synchronous)
    if eventlet_is_patched():
        _commit_in_os_thread(engine)
    return engine


def _create_private_file(path: str) -> None:
    """Create an SQLite file 0600 (and its folder 0700) before SQLite does.

    SQLite would create it with the process umask, usually 0644: readable by
    every local account. Its -wal and -shm files take the database file's mode.
    """
    directory = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(directory):
        os.makedirs(directory, exist_ok=True)
        os.chmod(directory, 0o700)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass


class _SQLiteConnection(sqlite3.Connection):
    """sqlite3's connection, remembering how many rows had changed when the
    current transaction began (see `_commit_in_os_thread`)."""

    changes_at_begin = -1


def _configure(engine: Engine, synchronous: str) -> None:
    # pysqlite's own transaction handling does not emit BEGIN before SELECTs,
    # which breaks snapshot reads and SAVEPOINTs; take control of BEGIN instead
    # (the recipe from SQLAlchemy's SQLite dialect documentation).
    @event.listens_for(engine, "connect")
    def on_connect(dbapi_conn, _record):
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        # Deleted content is zeroed as it is deleted, not left in free space
        # for anyone who reads the file: an erased member must be gone from
        # the bytes (shredding.scrub truncates the WAL after an erasure).
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def on_begin(conn):
        statement = conn.get_execution_options().get("sqlite_begin", "BEGIN")
        # Straight on the driver's connection: SQLAlchemy's execute machinery
        # cost a third of an empty transaction, paid by every read and write.
        # Errors (a lock still busy after the timeout) keep SQLAlchemy's types.
        driver = conn.connection.driver_connection
        driver.changes_at_begin = driver.total_changes
        try:
            driver.execute(statement)
        except sqlite3.Error as exc:
            raise DBAPIError.instance(statement, (), exc, sqlite3.Error) from exc


def _commit_in_os_thread(engine: Engine) -> None:
    """Run SQLite's COMMIT, and so its fsync, in eventlet's thread pool.

    In a pool thread, the other greenthreads keep serving (reads, RPC, the
    relay), and writers queue up for the next transaction, which the
    application then commits as a group. Only the greenthread holding the
    write lock touches that connection.

    A transaction that changed no row (every read) commits right here: its
    COMMIT only releases a read lock, and the trip to a pool thread and back
    cost more (~0.7 ms) than the whole read, on every relay batch and query.
    `total_changes` does not count schema changes: a migration's commit is
    still durable, only done in this thread (at start-up, before serving).
    """
    from eventlet import tpool

    dialect = engine.dialect
    commit_on_this_thread = dialect.do_commit
    checkpoints = BackgroundCheckpoints(engine)

    @event.listens_for(engine, "connect")
    def on_connect(dbapi_conn, _record):
        # The committing writer checkpoints only should the background checkpoints fall behind.
        dbapi_conn.execute(f"PRAGMA wal_autocheckpoint={WAL_AUTOCHECKPOINT_PAGES}")

    def do_commit(dbapi_connection):
        if dbapi_connection.total_changes == dbapi_connection.changes_at_begin:
            commit_on_this_thread(dbapi_connection)
        else:
            tpool.execute(commit_on_this_thread, dbapi_connection)
            checkpoints.after_write()

    dialect.do_commit = do_commit


# -- checkpoints off the commit path ------------------------------------------------
# SQLite's own checkpoint runs inside the COMMIT that fills the WAL past its mark (1,000
# pages by default): that commit copies the WAL into the database file and fsyncs it,
# while every writer queued behind it waits: at 1,000 signatures a second those stalls
# made the p99 of signing (with the mark raised, 100-130 ms fell to 87-97 ms, bench/
# petition_signing_gateway.py). Here a PASSIVE checkpoint (it never blocks the
# writer) runs in a pool thread on a connection of its own, at most every half second
# after a write; the committing writer checkpoints only past WAL_AUTOCHECKPOINT_PAGES,
# should these fall behind (a long reader holds frames they cannot copy).
WAL_AUTOCHECKPOINT_PAGES = 10_000  # ~40 MB of WAL
CHECKPOINT_EVERY_S = 0.5


class BackgroundCheckpoints:
    """Of one engine, under eventlet (`_commit_in_os_thread` makes it)."""

    def __init__(self, engine: Engine, every_s: float = CHECKPOINT_EVERY_S):
        from eventlet import spawn_n

        self.engine, self.every_s, self._spawn = engine, every_s, spawn_n
        self.running, self.last = False, 0.0

    def after_write(self) -> None:
        now = time.monotonic()
        if self.running or now - self.last < self.every_s:
            return
        self.running, self.last = True, now
        self._spawn(self._checkpoint)

    def _checkpoint(self) -> None:
        try:
            wal_checkpoint(self.engine, "PASSIVE")
        except Exception as exc:  # busy (an erasure's TRUNCATE checkpoint), or the engine disposed: the next one
            log.debug("background checkpoint skipped: %s", type(exc).__name__)
        finally:
            self.running = False


def wal_checkpoint(engine: Engine, mode: str) -> tuple:
    """`PRAGMA wal_checkpoint(mode)` on a connection of the pool: (busy, WAL frames, frames copied).
    The connection is taken from the pool here (its locks are green ones under eventlet: never
    from an OS thread); the checkpoint, which waits for the disk, runs in a pool thread."""
    raw = engine.raw_connection()
    try:
        return run_blocking(lambda: raw.driver_connection.execute(f"PRAGMA wal_checkpoint({mode})").fetchone())
    finally:
        raw.close()


# -- group commit -------------------------------------------------------------------
MAX_GROUP = 200  # commands in one group commit at most


class _PendingCommand:
    """A command waiting to run in the next group commit, then its outcome."""

    __slots__ = ("run", "result", "error", "recorded", "done")

    def __init__(self, run: Callable):
        self.run = run
        self.result, self.error, self.recorded, self.done = None, None, [], False


class GroupCommit:
    """Commands that queue up while a commit is under way run together in the
    next transaction, each in its own SAVEPOINT, and share one commit: one
    fsync for many commands, each still all-or-nothing, each answered only
    once durable.

    `run(conn)` runs one command once and returns (its result, its recorded
    events); raising `lost_race` makes it run again, on fresh state, up to
    `attempts` times in all, after which the command fails with `gave_up()`.
    `committed(recorded)` hears of every group that committed.
    """

    def __init__(self, db, *, attempts: int, lost_race: type[Exception], gave_up: Callable[[], Exception],
                 committed: Callable[[list], None]):
        self.db = db
        self.attempts, self.lost_race, self.gave_up, self.committed = attempts, lost_race, gave_up, committed
        self._waiting: list[_PendingCommand] = []  # commands waiting for the next group commit

    def execute(self, run: Callable[[Connection], tuple[Any, list]]) -> Any:
        mine = _PendingCommand(run)
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

    def _commit_group(self, group: list[_PendingCommand]) -> None:
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
        recorded = [r for pending in group for r in pending.recorded]
        if recorded:
            self.committed(recorded)

    def _run_in_savepoint(self, conn: Connection, pending: _PendingCommand) -> None:
        # SAVEPOINTs are sent straight to SQLite: SQLAlchemy's nested
        # transactions cost more than the savepoints themselves, twice per command.
        driver = conn.connection.driver_connection
        for attempt in range(1, self.attempts + 1):
            driver.execute("SAVEPOINT command")
            try:
                result, recorded = pending.run(conn)
            except self.lost_race:  # decide again, up to a point
                error = self.gave_up() if attempt == self.attempts else None
            except Exception as exc:  # the command refused, or failed
                error = exc
            else:
                driver.execute("RELEASE command")
                pending.result, pending.recorded = result, recorded
                return
            driver.execute("ROLLBACK TO command")  # only this command's writes are undone
            driver.execute("RELEASE command")
            if error is not None:
                pending.error = error
                return


# -- after an erasure: the WAL ----------------------------------------------------
def checkpoint_truncate(db, attempts: int = 3) -> bool:
    """Copy the WAL into the database file and truncate it to nothing (`shredding.scrub`).

    The WAL keeps the pages as they were before each change: an erased row is
    still there until a checkpoint, and its bytes stay in the file until it is
    truncated. Taken with the write lock, so no command of this process writes
    meanwhile; run in a pool thread under eventlet, as a commit is, since it
    may wait for readers. A reader of another process may hold it back: it is
    tried again, then left to the next erasure (and said so, with False).
    """
    if eventlet_is_patched():
        from eventlet import sleep as pause
    else:
        from time import sleep as pause
    for _ in range(attempts):
        with db.write_lock:
            busy, _, _ = wal_checkpoint(db.engine, "TRUNCATE")
        if not busy:
            return True
        pause(0.05)
    # The erasure is committed: say so loudly rather than fail it. The next
    # erasure truncates the WAL again (and SQLite reuses it from its start).
    log.warning("the WAL of %s could not be truncated after an erasure: a reader kept it busy", db.url)
    return False


# -- rebuilds: rows as plain tuples ---------------------------------------------------
def insert_rows(conn: Connection, table: Table, columns: list, rows: list[dict]) -> None:
    """INSERT the rows as tuples, converted by SQLAlchemy's own bind processors (made quicker)."""
    dialect = conn.dialect
    quote = dialect.identifier_preparer.quote
    sql = (
        f"INSERT INTO {dialect.identifier_preparer.format_table(table)} "
        f"({', '.join(quote(c.name) for c in columns)}) VALUES ({', '.join('?' * len(columns))})"
    )
    keys = [c.key for c in columns]
    values_of = itemgetter(*keys) if len(keys) > 1 else (lambda row: (row[keys[0]],))
    parameters = [values_of(row) for row in rows]  # tuples in `columns` order
    converted = [(i, p) for i, p in enumerate(quick_binder(c.type, dialect) for c in columns) if p]
    if converted:

        def convert_row(values: tuple) -> tuple:
            values = list(values)
            for i, convert in converted:
                if values[i] is not None:
                    values[i] = convert(values[i])
            return tuple(values)

        parameters = [convert_row(values) for values in parameters]
    conn.exec_driver_sql(sql, parameters)


def quick_binder(column_type, dialect) -> Callable | None:
    """SQLAlchemy's bind processor for a column on SQLite, made quicker for plain values.

    SQLAlchemy writes dates and datetimes with %-formatting of a dict per value,
    which dominates a rebuild's inserts. For values of exactly `date`, `datetime`
    or `bool` this uses isoformat / int instead, but only after checking on
    sample values that they give the very text SQLAlchemy would (a custom
    storage format keeps SQLAlchemy's processor).
    """
    impl = column_type.dialect_impl(dialect)
    slow = impl.bind_processor(dialect)
    if slow is None:
        return None
    if isinstance(impl, sqltypes.DateTime):
        exact, quick = datetime, lambda v: v.isoformat(" ", "microseconds")[:26]
        samples = [datetime(2026, 1, 2, 3, 4, 5, 6), datetime(999, 12, 31), datetime.now(timezone.utc),
                   datetime(2026, 6, 1, 12, tzinfo=timezone(timedelta(hours=2)))]
    elif isinstance(impl, sqltypes.Date):
        exact, quick = date, date.isoformat
        samples = [date(2026, 1, 2), date(999, 12, 31)]
    elif isinstance(impl, sqltypes.Boolean):
        exact, quick = bool, int  # SQLite stores booleans as 0 / 1
        samples = [True, False]
    else:
        return slow
    if any(quick(v) != slow(v) or type(quick(v)) is not type(slow(v)) for v in samples):
        return slow
    return lambda value: quick(value) if type(value) is exact else slow(value)


# -- which key an IntegrityError is about ------------------------------------------
_UNIQUE_FAILED = "UNIQUE constraint failed: "


def violates(driver_error, table: Table, columns: tuple[str, ...]) -> bool:
    """Whether sqlite3's error is a unique violation of `table`'s key on `columns`.

    SQLite names them: "UNIQUE constraint failed: events.stream_id, events.version"
    (primary keys included); a NOT NULL, CHECK or foreign key failure reads otherwise.
    """
    message = str(driver_error)
    if not message.startswith(_UNIQUE_FAILED):
        return False
    failed = message[len(_UNIQUE_FAILED):].split(", ")
    return set(failed) == {f"{table.name}.{column}" for column in columns}

