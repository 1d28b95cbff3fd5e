"""Under eventlet, database work must let other greenthreads run."""
import time

import eventlet
from sqlalchemy import text

from umpnet_kernel.testing import temporary_database


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
