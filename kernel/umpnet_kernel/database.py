"""One service's database: SQLite by default, PostgreSQL by URL, both safe under eventlet.

`Database` gives every service the same transaction discipline on either
backend: `write()` commits on success and rolls back on any error, `read()` is
a consistent snapshot. What each backend needs for that is beside this module:
`sqlite.py` (one writer at a time: a green write lock, BEGIN IMMEDIATE, the
commit in a pool thread) and `postgres.py` (psycopg2 made cooperative).
"""
from __future__ import annotations

import os
import sqlite3
from contextlib import contextmanager, nullcontext
from typing import Iterator

from sqlalchemy import Connection, Table
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import IntegrityError

from . import postgres, sqlite


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
            self.engine: Engine = postgres.engine_for(parsed, echo=echo)
        elif self.is_sqlite:
            self.engine = sqlite.engine_for(parsed, echo=echo, synchronous=sqlite_synchronous)
        else:
            raise ValueError(f"unsupported database URL scheme: {parsed.drivername}")
        # SQLite has one writer at a time: greenthreads take turns (see sqlite.py).
        self._write_lock = sqlite.write_lock() if self.is_sqlite else nullcontext()

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


def violates_unique_key(error: IntegrityError, table: Table, columns: tuple[str, ...]) -> bool:
    """Whether `error` is a duplicate of `table`'s unique key on `columns` (its
    primary key, a unique constraint or index), rather than any other violation."""
    driver_error = error.orig
    if isinstance(driver_error, sqlite3.Error):
        return sqlite.violates(driver_error, table, columns)
    return postgres.violates(driver_error, table, columns)
