"""`throttle`: the one-statement paths (`hit_many`, `add_many` + `refund_many`) count what
the one-row `hit` counts, call by call, on SQLite and PostgreSQL."""
from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone

import pytest

from umpnet_kernel import throttle
from umpnet_kernel.testing import temporary_database
from umpnet_kernel.throttle import Limit

START = datetime(2026, 12, 3, 10, tzinfo=timezone.utc)
LIMITS = {"a": Limit(3, timedelta(hours=1)), "b": Limit(5, timedelta(minutes=1)), "c": Limit(2, timedelta(seconds=30))}


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path):
    with temporary_database(request.param, str(tmp_path)) as db:
        with db.write() as conn:
            throttle.throttle_metadata.create_all(conn)
        yield db


def counters(db, prefix: str, now: datetime) -> dict:
    """What a caller can tell of the counters: each key's count now (0: none, or its window over)."""
    with db.read() as conn:
        return {k: throttle.count(conn, prefix + k, now) for k in LIMITS}


def steps(seed: int):
    """(moment, keys) calls: repeated keys, windows ending between calls."""
    rng = random.Random(seed)
    now = START
    for _ in range(40):
        now += timedelta(seconds=rng.choice([0, 1, 7, 20, 61]))
        yield now, [rng.choice("abc") for _ in range(rng.randint(1, 5))]


def test_hit_many_counts_as_hit_one_by_one(database):
    seen = {"one-": [], "many-": []}
    for now, keys in steps(1):
        with database.write() as conn:
            seen["one-"].append([throttle.hit(conn, "one-" + k, LIMITS[k], now) for k in keys])
        with database.write() as conn:
            seen["many-"].append(throttle.hit_many(conn, [("many-" + k, LIMITS[k]) for k in keys], now))
        assert counters(database, "many-", now) == counters(database, "one-", now)
    assert seen["many-"] == seen["one-"]


def test_a_batch_counted_at_once_and_its_refusals_refunded_is_what_savepoints_give(database):
    """A batch of requests, each counting its keys and refused if one is over its limit:
    one by one, each in a savepoint rolled back when refused (the plain path); or all
    counted by one `add_many`, the decisions taken from its counts, the refused given
    back by `refund_many` (the fast path). Same counts seen, same refusals, same counters."""
    for now, _ in steps(2):
        batch = [random.Random(str(now) + str(i)).sample("abc", 2) for i in range(6)]
        plain = []
        with database.write() as conn:
            for keys in batch:
                savepoint = conn.begin_nested()
                counted = [throttle.hit(conn, "one-" + k, LIMITS[k], now) for k in keys]
                refused = any(c > LIMITS[k].count for (c, _), k in zip(counted, keys))
                savepoint.rollback() if refused else savepoint.commit()
                plain.append((refused, counted))
        fast = []
        with database.write() as conn:
            wanted = {}
            for keys in batch:
                for k in keys:
                    wanted[k] = wanted.get(k, 0) + 1
            before = throttle.add_many(conn, [("many-" + k, LIMITS[k], n) for k, n in wanted.items()], now)
            running = {k: before["many-" + k][0] for k in wanted}
            for keys in batch:
                counted = [(running[k] + 1, before["many-" + k][1]) for k in keys]
                refused = any(c > LIMITS[k].count for (c, _), k in zip(counted, keys))
                if not refused:
                    for k in keys:
                        running[k] += 1
                fast.append((refused, counted))
            throttle.refund_many(conn, {"many-" + k: wanted[k] - (running[k] - before["many-" + k][0])
                                        for k in wanted})
        assert fast == plain
        assert counters(database, "many-", now) == counters(database, "one-", now)
        later = now + timedelta(seconds=1)  # and the next hit counts the same on both
        with database.write() as conn:
            assert ([throttle.hit(conn, "many-" + k, LIMITS[k], later)[0] for k in LIMITS]
                    == [throttle.hit(conn, "one-" + k, LIMITS[k], later)[0] for k in LIMITS])


def test_a_refund_back_to_nothing_leaves_no_counter(database):
    with database.write() as conn:
        throttle.add_many(conn, [("k", LIMITS["a"], 2)], START)
        throttle.refund_many(conn, {"k": 2})
    with database.read() as conn:
        assert conn.execute(throttle.throttle_counters.select()).all() == []


def test_more_keys_than_one_statement_takes_are_counted_in_several(database):
    keys = [(f"k{n:04d}", LIMITS["a"]) for n in range(450)] + [("k0001", LIMITS["a"])]
    with database.write() as conn:
        counted = throttle.hit_many(conn, keys, START)
    assert [c for c, _ in counted] == [1] * 450 + [2]
