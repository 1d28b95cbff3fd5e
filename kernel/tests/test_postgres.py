"""`postgres.py`: what PostgreSQL needs that SQLite does not."""
from __future__ import annotations

import time

import eventlet
import pytest
from sqlalchemy import event, text

from umpnet_kernel.events import Metadata
from umpnet_kernel.postgres import lock_appends
from umpnet_kernel.store import EventStore
from umpnet_kernel.testing import temporary_database

from sample_domain import AccountOpened

store = EventStore()


def opened(n) -> AccountOpened:
    return AccountOpened(account_id=str(n), owner=f"owner-{n}")


def test_postgresql_queries_wait_cooperatively(tmp_path):
    with temporary_database("postgresql", str(tmp_path)) as db:

        def slow_query():
            with db.read() as conn:
                conn.execute(text("SELECT pg_sleep(0.4)"))

        started = time.perf_counter()
        pool = eventlet.GreenPool()
        for _ in range(4):
            pool.spawn(slow_query)
        pool.waitall()
        # Four 0.4 s queries overlap (psycogreen); a blocking driver would take 1.6 s.
        assert time.perf_counter() - started < 1.0


def _count_lock_statements(db):
    seen = []

    @event.listens_for(db.engine, "before_cursor_execute")
    def count(conn, cursor, statement, *args):
        if "pg_advisory_xact_lock" in statement:
            seen.append(statement)

    return seen


def _holds_append_lock(conn) -> bool:
    query = text("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()")
    return conn.execute(query).scalar() > 0


def test_the_append_lock_is_taken_once_per_transaction(database):
    if not database.is_postgresql:
        pytest.skip("SQLite needs no append lock")
    locks = _count_lock_statements(database)
    with database.write() as conn:
        for n in range(5):
            store.append(conn, f"member-{n}", 0, [opened(n)], [Metadata()])
        assert _holds_append_lock(conn)
    assert len(locks) == 1
    with database.write() as conn:
        store.append(conn, "member-9", 0, [opened(9)], [Metadata()])
    assert len(locks) == 2  # a new transaction takes it again


def test_the_append_lock_is_taken_again_after_a_rolled_back_savepoint(database):
    if not database.is_postgresql:
        pytest.skip("SQLite needs no append lock")
    locks = _count_lock_statements(database)
    with database.write() as conn:
        savepoint = conn.begin_nested()
        lock_appends(conn)
        savepoint.rollback()  # releases what was locked inside it
        assert not _holds_append_lock(conn)
        lock_appends(conn)
        assert _holds_append_lock(conn)
    assert len(locks) == 2


def test_vacuum_full_waits_for_a_transaction_of_another_database_older_than_the_erasure(tmp_path):
    """VACUUM FULL's own snapshot has, as its xmin, the oldest transaction running anywhere on
    the server: while one that began before the erasure runs, even in another service's
    database, the deleted rows are "recently dead" and copied, bytes and all, into the new
    file. So `vacuum_full` waits for such transactions too (the erasure test on PostgreSQL
    failed now and then on a busy server before it did)."""
    from umpnet_kernel.postgres import vacuum_full

    with temporary_database("postgresql", str(tmp_path)) as erasing, \
            temporary_database("postgresql", str(tmp_path)) as elsewhere:
        with erasing.write() as conn:
            conn.execute(text("CREATE TABLE personal (name text)"))
        other = elsewhere.engine.connect()
        older = other.begin()
        other.execute(text("SELECT pg_current_xact_id()"))  # a transaction with an id, older than the erasure
        with erasing.write() as conn:
            conn.execute(text("INSERT INTO personal VALUES ('Zephyrine')"))
        with erasing.write() as conn:
            conn.execute(text("DELETE FROM personal"))
        order = []

        def vacuum():
            vacuum_full(erasing.engine)
            order.append("vacuumed")

        thread = eventlet.spawn(vacuum)
        eventlet.sleep(0.5)
        order.append("older transaction ended")
        older.commit()
        other.close()
        thread.wait()
        assert order == ["older transaction ended", "vacuumed"]
