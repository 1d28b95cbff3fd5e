"""Helpers for the tests of the kernel and of every service.

- `temporary_database(backend, directory)`: a fresh, empty database on SQLite
  (a file under `directory`) or on the local PostgreSQL (a throw-away database
  created on the server named by `TEST_POSTGRES_URL`), dropped afterwards.
- `dump_tables`: the rows of read-model tables, sorted, to compare a rebuilt
  read model with the live one.
- `given_when_then`: the aggregate test idiom, events in, command, events out.
"""
from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from typing import Callable, Iterable, Iterator

from sqlalchemy import Connection, Table, create_engine, select, text
from sqlalchemy.engine import make_url

from .aggregate import Aggregate
from .database import Database
from .events import DomainEvent

DEFAULT_TEST_POSTGRES_URL = "postgresql://postgres@localhost:5432/postgres"


def postgres_admin_url() -> str:
    return os.environ.get("TEST_POSTGRES_URL", DEFAULT_TEST_POSTGRES_URL)


@contextmanager
def temporary_postgres_url() -> Iterator[str]:
    admin_url = make_url(postgres_admin_url()).set(drivername="postgresql+psycopg2")
    name = f"umpnet_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def temporary_database(backend: str, directory: str) -> Iterator[Database]:
    if backend == "sqlite":
        db = Database(f"sqlite:///{os.path.join(directory, uuid.uuid4().hex[:8] + '.db')}")
        try:
            yield db
        finally:
            db.dispose()
    elif backend == "postgresql":
        with temporary_postgres_url() as url:
            db = Database(url)
            try:
                yield db
            finally:
                db.dispose()
    else:
        raise ValueError(backend)


def dump_tables(conn: Connection, tables: Iterable[Table]) -> dict[str, list[tuple]]:
    """Every row of each table, sorted, for equality checks."""
    return {
        table.name: sorted((tuple(row) for row in conn.execute(select(table))), key=repr)
        for table in tables
    }


def given_when_then(
    aggregate_cls: type[Aggregate],
    aggregate_id: str,
    given: Iterable[DomainEvent],
    when: Callable[[Aggregate], object],
) -> list[DomainEvent]:
    """Rebuild from `given`, run `when`, return the events it recorded."""
    aggregate = aggregate_cls.rehydrate(aggregate_id, given)
    when(aggregate)
    return list(aggregate.pending)
