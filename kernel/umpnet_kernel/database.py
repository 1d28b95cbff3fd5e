"""One service's database: SQLite by default, PostgreSQL by URL, both safe under eventlet.

Failure modes this module prevents:
- psycopg2 blocks the whole process while it waits for the server unless
  psycogreen makes it yield to eventlet: we patch it whenever eventlet is live.
- SQLite allows one writer at a time. Two greenthreads of one process that both
  open a write transaction would make the second wait on SQLite's busy timeout
  *inside the OS thread*, which stops the eventlet hub, so the first can never
  commit. Write transactions therefore take a green lock first, and start with
  BEGIN IMMEDIATE so the file lock is taken up front rather than on first write.
"""
from __future__ import annotations

import os
import sqlite3
import threading
from contextlib import contextmanager, nullcontext
from typing import Iterator

from sqlalchemy import Connection, create_engine, event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import DBAPIError

from .green import eventlet_is_patched


def _green_lock():
    """A lock that yields to other greenthreads when eventlet is live."""
    if eventlet_is_patched():
        from eventlet.semaphore import Semaphore

        return Semaphore(1)
    return threading.Lock()


def default_url(service: str) -> str:
    data_dir = os.environ.get("DATA_DIR", "./var")
    return f"sqlite:///{os.path.join(data_dir, service + '.db')}"


def url_for_service(service: str, environ=os.environ) -> str:
    """`<SERVICE>_DATABASE_URL`, else an SQLite file under `$DATA_DIR` (API.md §1)."""
    return environ.get(f"{service.upper()}_DATABASE_URL") or default_url(service)


class Database:
    """An engine plus the transaction discipline every service follows."""

    def __init__(self, url: str, *, echo: bool = False, sqlite_synchronous: str = "FULL"):
        parsed = make_url(url)
        self.url = url
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        self.is_postgresql = parsed.get_backend_name() == "postgresql"
        if self.is_postgresql:
            if parsed.drivername == "postgresql":
                parsed = parsed.set(drivername="postgresql+psycopg2")
            if eventlet_is_patched():
                from psycogreen.eventlet import patch_psycopg

                patch_psycopg()
            self.engine: Engine = create_engine(parsed, echo=echo, pool_pre_ping=True, pool_size=10)
        elif self.is_sqlite:
            path = parsed.database
            if path and path != ":memory:" and not path.startswith("file:"):
                _create_private_file(path)
            self.engine = create_engine(
                parsed,
                echo=echo,
                connect_args={"check_same_thread": False, "timeout": 30, "factory": _SQLiteConnection},
            )
            _configure_sqlite(self.engine, sqlite_synchronous)
        else:
            raise ValueError(f"unsupported database URL scheme: {parsed.drivername}")
        self._write_lock = _green_lock() if self.is_sqlite else nullcontext()
        if self.is_sqlite and eventlet_is_patched():
            _commit_in_os_thread(self.engine)

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction: commits on success, rolls back on any error."""
        with self._write_lock, self.write_holding_lock() as conn:
            yield conn

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read transaction (a consistent snapshot on both backends)."""
        with self.engine.connect() as conn:
            with conn.begin():
                yield conn

    @property
    def write_lock(self):
        """The lock `write()` takes (SQLite; a no-op on PostgreSQL), for callers
        that run several commands in one write transaction (group commit)."""
        return self._write_lock

    @contextmanager
    def write_holding_lock(self) -> Iterator[Connection]:
        """A write transaction for a caller that already holds `write_lock`."""
        with self.engine.connect() as conn:
            conn.execution_options(sqlite_begin="BEGIN IMMEDIATE")
            with conn.begin():
                yield conn

    def dispose(self) -> None:
        self.engine.dispose()


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


def _configure_sqlite(engine: Engine, synchronous: str) -> None:
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

    A commit with synchronous=FULL waits for the disk; done in the hub's thread
    it would stop every greenthread of the process for that long. In a pool
    thread, the others keep serving (reads, RPC, the relay), and writers queue
    up for the next transaction, which the application then commits as a group.
    Only the greenthread holding the write lock touches that connection.

    A transaction that changed no row (every read) commits right here: its
    COMMIT only releases a read lock, and the trip to a pool thread and back
    cost more (~0.7 ms) than the whole read, on every relay batch and query.
    `total_changes` does not count schema changes: a migration's commit is
    still durable, only done in this thread (at start-up, before serving).
    """
    from eventlet import tpool

    dialect = engine.dialect
    commit_on_this_thread = dialect.do_commit

    def do_commit(dbapi_connection):
        if dbapi_connection.total_changes == dbapi_connection.changes_at_begin:
            commit_on_this_thread(dbapi_connection)
        else:
            tpool.execute(commit_on_this_thread, dbapi_connection)

    dialect.do_commit = do_commit
