"""`throttle.hit_many`: several rate-limit keys counted in one statement, as `hit` counts them one by one."""
from datetime import datetime, timedelta, timezone

import eventlet
import pytest

from members.throttle import Limit, hit, hit_many
from umpnet_kernel.database import Database

BACKENDS = ("sqlite", "postgresql")
HOUR, MINUTE = Limit(3, timedelta(hours=1)), Limit(10, timedelta(minutes=1))


@pytest.mark.parametrize("backend", BACKENDS)
def test_counting_keys_together_gives_what_counting_them_one_by_one_gives(migrated_url, backend):
    db = Database(migrated_url("members", backend))
    start = datetime(2026, 12, 2, 10, tzinfo=timezone.utc)
    # (moment, keys counted): new keys, counted again, one window over and not the other, one alone
    steps = [(start, ["a", "b"]), (start + timedelta(seconds=30), ["a", "b"]), (start + timedelta(seconds=61), ["b", "a"]),
             (start + timedelta(seconds=62), ["a"]), (start + timedelta(hours=2), ["a", "b"])]
    limits = {"a": HOUR, "b": MINUTE}
    try:
        seen = {}
        for prefix, count in (("one-", lambda conn, keys, now: [hit(conn, prefix + k, limits[k], now) for k in keys]),
                              ("many-", lambda conn, keys, now: hit_many(conn, [(prefix + k, limits[k]) for k in keys], now))):
            seen[prefix] = []
            for now, keys in steps:
                with db.write() as conn:
                    seen[prefix].append(count(conn, keys, now))
        assert seen["many-"] == seen["one-"]
        assert seen["many-"][2] == [(1, start + timedelta(seconds=121)), (3, start + timedelta(hours=1))]  # b anew, a on
    finally:
        db.dispose()


def test_a_key_given_twice_is_counted_twice(migrated_url):
    db = Database(migrated_url("members"))
    now = datetime(2026, 12, 2, 10, tzinfo=timezone.utc)
    try:
        with db.write() as conn:
            assert [c for c, _ in hit_many(conn, [("k", HOUR), ("k", HOUR)], now)] == [1, 2]
    finally:
        db.dispose()


def test_parallel_callers_each_get_their_own_counts(migrated_url):
    db = Database(migrated_url("members", "postgresql"))
    now = datetime(2026, 12, 2, 10, tzinfo=timezone.utc)

    def count_both(_):
        with db.write() as conn:
            return hit_many(conn, [("address", HOUR), ("source", MINUTE)], now)

    try:
        counts = list(eventlet.GreenPool(30).imap(count_both, range(30)))
    finally:
        db.dispose()
    assert sorted(a for (a, _), _b in counts) == list(range(1, 31))
    assert sorted(b for _a, (b, _) in counts) == list(range(1, 31))
