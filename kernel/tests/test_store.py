"""The store contract: every backend (SQLite, PostgreSQL) must pass all of it."""
import threading

import pytest

from umpnet_kernel.events import Metadata
from umpnet_kernel.store import ConcurrencyError, EventStore

from sample_domain import AccountAudited, AccountOpened, MoneyDeposited

store = EventStore()


def append(db, stream, expected, *events):
    with db.write() as conn:
        return store.append(conn, stream, expected, list(events), [Metadata() for _ in events])


def test_appended_events_load_back_in_stream_order(database):
    append(database, "account-1", 0, AccountOpened(account_id="1", owner="Ann"))
    append(database, "account-1", 1, MoneyDeposited(account_id="1", amount=3, currency="EUR"),
           MoneyDeposited(account_id="1", amount=4, currency="EUR"))
    with database.read() as conn:
        records = store.load_stream(conn, "account-1")
    assert [r.version for r in records] == [1, 2, 3]
    assert [type(r.event) for r in records] == [AccountOpened, MoneyDeposited, MoneyDeposited]
    assert records[2].event.amount == 4
    assert all(r.recorded_at.tzinfo is not None for r in records)


def test_several_streams_load_at_once_each_whole_and_in_order(database):
    from umpnet_kernel.store import _STREAMS_PER_QUERY, StreamAppend

    streams = [f"account-{n}" for n in range(_STREAMS_PER_QUERY + 3)]  # more than one query's worth
    with database.write() as conn:
        store.append_many(conn, [
            StreamAppend(stream, 0, events, [Metadata() for _ in events])
            for n, stream in enumerate(streams)
            for events in [[AccountOpened(account_id=str(n), owner=f"o{n}")]
                           + [MoneyDeposited(account_id=str(n), amount=a, currency="EUR") for a in range(1, n % 3 + 1)]]
        ])
    asked = [streams[-1], "account-none", *streams, streams[0]]  # repeats and an unknown stream
    with database.read() as conn:
        loaded = store.load_streams(conn, asked)
        one_by_one = {stream: store.load_stream(conn, stream) for stream in streams}
    assert loaded == one_by_one
    assert [r.version for r in loaded[streams[2]]] == [1, 2, 3]


def test_appending_at_a_stale_version_fails_and_writes_nothing(database):
    append(database, "account-1", 0, AccountOpened(account_id="1", owner="Ann"))
    with pytest.raises(ConcurrencyError):
        append(database, "account-1", 0, AccountOpened(account_id="1", owner="Bob"),
               MoneyDeposited(account_id="1", amount=1, currency="EUR"))
    with database.read() as conn:
        assert store.count(conn) == 1
        assert store.load_stream(conn, "account-1")[0].event.owner == "Ann"


def test_positions_are_global_and_increasing_across_streams(database):
    append(database, "account-a", 0, AccountOpened(account_id="a", owner="A"))
    append(database, "account-b", 0, AccountOpened(account_id="b", owner="B"))
    append(database, "account-a", 1, MoneyDeposited(account_id="a", amount=1, currency="EUR"))
    with database.read() as conn:
        everything = store.read_all(conn)
        assert [r.stream_id for r in everything] == ["account-a", "account-b", "account-a"]
        positions = [r.position for r in everything]
        assert positions == sorted(positions) and len(set(positions)) == 3
        assert store.read_all(conn, after_position=positions[0]) == everything[1:]
        assert store.head_position(conn) == positions[-1]
        only_deposits = store.read_all(conn, event_types={"test.MoneyDeposited"})
        assert [r.stream_id for r in only_deposits] == ["account-a"]


def test_metadata_travels_with_the_event(database):
    meta = Metadata(actor_id="m-1", correlation_id="c-1", causation_id="e-0")
    with database.write() as conn:
        store.append(conn, "account-1", 0, [AccountAudited(account_id="1", note="hi")], [meta])
    with database.read() as conn:
        (record,) = store.load_stream(conn, "account-1")
    assert record.meta == meta
    assert record.meta.event_id == meta.event_id


def test_concurrent_writers_of_one_stream_cannot_both_win(database):
    append(database, "account-1", 0, AccountOpened(account_id="1", owner="Ann"))
    outcomes = []
    barrier = threading.Barrier(4)

    def writer(n):
        barrier.wait()
        try:
            append(database, "account-1", 1, MoneyDeposited(account_id="1", amount=n, currency="EUR"))
            outcomes.append("ok")
        except ConcurrencyError:
            outcomes.append("conflict")

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(1, 5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict", "conflict", "conflict", "ok"]
    with database.read() as conn:
        assert store.stream_version(conn, "account-1") == 2
