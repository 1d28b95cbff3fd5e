"""`sqlite.py`: one writer at a time, under eventlet, each commit waiting for the disk."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import eventlet
import pytest
from sqlalchemy import Boolean, Date, DateTime, String, event, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import IntegrityError, OperationalError

from umpnet_kernel.application import Application
from umpnet_kernel.database import Database
from umpnet_kernel.events import Context
from umpnet_kernel.sqlite import quick_binder
from umpnet_kernel.store import create_kernel_tables
from umpnet_kernel.testing import dump_tables, temporary_database

from sample_domain import Account, Balances, DepositLog, balances, read_models


def test_sqlite_writers_in_one_process_take_turns_instead_of_deadlocking(tmp_path):
    with temporary_database("sqlite", str(tmp_path)) as db:
        with db.write() as conn:
            conn.execute(text("CREATE TABLE hits (n INTEGER)"))

        def writer(n):
            with db.write() as conn:
                conn.execute(text("INSERT INTO hits VALUES (:n)"), {"n": n})
                eventlet.sleep(0.01)  # yield inside the transaction, as real work does
                conn.execute(text("INSERT INTO hits VALUES (:n)"), {"n": n})

        pool = eventlet.GreenPool()
        with eventlet.Timeout(10):
            for n in range(20):
                pool.spawn(writer, n)
            pool.waitall()
        with db.read() as conn:
            assert conn.execute(text("SELECT count(*) FROM hits")).scalar() == 40


def test_sqlite_commits_of_writes_go_to_a_pool_thread_and_reads_commit_in_place(tmp_path, monkeypatch):
    from eventlet import tpool

    sent_to_pool = []
    run_in_pool = tpool.execute

    def counting_execute(fn, *args, **kwargs):
        if getattr(fn, "__name__", "") == "do_commit":  # not the background checkpoints (their own test)
            sent_to_pool.append(fn)
        return run_in_pool(fn, *args, **kwargs)

    monkeypatch.setattr(tpool, "execute", counting_execute)
    with temporary_database("sqlite", str(tmp_path)) as db:
        with db.write() as conn:
            conn.execute(text("CREATE TABLE hits (n INTEGER)"))
            conn.execute(text("INSERT INTO hits VALUES (1)"))
        assert len(sent_to_pool) == 1  # the commit that waits for the disk

        for _ in range(3):
            with db.read() as conn:
                assert conn.execute(text("SELECT count(*) FROM hits")).scalar() == 1
        with db.write() as conn:  # a write transaction that changed nothing
            conn.execute(text("UPDATE hits SET n = 2 WHERE n = 99"))
        assert len(sent_to_pool) == 1  # nothing to make durable: no trip to the pool

        with db.write() as conn:
            conn.execute(text("INSERT INTO hits VALUES (2)"))
        assert len(sent_to_pool) == 2


def test_concurrent_commands_on_sqlite_share_commits_yet_each_stands_alone(tmp_path):
    with temporary_database("sqlite", str(tmp_path)) as db:
        with db.write() as conn:
            create_kernel_tables(conn)
            read_models.create_all(conn)
        app = Application(db, [Balances(), DepositLog()])
        commits = []
        event.listen(db.engine, "commit", lambda conn: commits.append(1))
        outcomes = {}

        def open_one(n):
            owner = "dup" if n in (7, 8) else f"owner{n}"  # 7 and 8 want one unique owner: the second fails
            try:
                app.execute(Context(actor_id=owner), lambda uow: uow.add(Account.open(f"a{n}", owner, tags=["t"])))
                outcomes[n] = "ok"
            except IntegrityError:
                outcomes[n] = "refused"

        pool = eventlet.GreenPool()
        for n in range(60):
            pool.spawn(open_one, n)
        pool.waitall()
        assert sorted(outcomes.values()).count("refused") == 1 and len(outcomes) == 60
        with app.read() as conn:
            assert app.store.count(conn) == 59
            assert len(dump_tables(conn, [balances])["balances"]) == 59
        assert len(commits) < 30, len(commits)  # several commands per commit


# -- SQLite transactions ---------------------------------------------------------------
def test_a_busy_sqlite_database_still_raises_sqlalchemy_errors(tmp_path):
    path = tmp_path / "busy.db"
    first, second = Database(f"sqlite:///{path}"), Database(f"sqlite:///{path}")
    try:
        with first.write() as conn:
            conn.execute(text("CREATE TABLE t (n INTEGER)"))

        @event.listens_for(second.engine, "connect")
        def impatient(dbapi_conn, _record):
            dbapi_conn.execute("PRAGMA busy_timeout=10")

        with first.write():
            with pytest.raises(OperationalError):
                with second.write():
                    pass
    finally:
        first.dispose()
        second.dispose()


def test_the_quick_sqlite_binders_match_sqlalchemys():
    dialect = sqlite.dialect()
    samples = {
        DateTime(): [datetime(2026, 1, 2, 3, 4, 5, 6), datetime(1, 1, 1), datetime.now(timezone.utc),
                     date(2026, 1, 2)],
        DateTime(timezone=True): [datetime(2026, 1, 2, tzinfo=timezone(timedelta(hours=-5)))],
        Date(): [date(2026, 1, 2), date(1, 1, 1), datetime(2026, 1, 2, 23, 59)],
        Boolean(): [True, False, 1, 0],
    }
    for column_type, values in samples.items():
        quick = quick_binder(column_type, dialect)
        slow = column_type.dialect_impl(dialect).bind_processor(dialect)
        for value in values:
            assert quick(value) == slow(value) and type(quick(value)) is type(slow(value)), (column_type, value)
    custom = sqlite.DATETIME(storage_format="%(year)04d/%(month)02d/%(day)02d")
    slow = custom.bind_processor(dialect)
    assert quick_binder(custom, dialect)(datetime(2026, 1, 2)) == slow(datetime(2026, 1, 2)) == "2026/01/02"
    assert quick_binder(String(), dialect) is None
