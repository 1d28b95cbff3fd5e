"""`EventStore.append_many`: several streams in one INSERT, on every backend (SQLite, PostgreSQL)."""
import math

import pytest
from sqlalchemy import Connection, event

from umpnet_kernel.events import Metadata
from umpnet_kernel.store import _ROWS_PER_INSERT, ConcurrencyError, EventStore, StreamAppend

from sample_domain import AccountOpened, MoneyDeposited

store = EventStore()


def opened(n) -> AccountOpened:
    return AccountOpened(account_id=str(n), owner=f"owner-{n}")


def deposits(account, count) -> list[MoneyDeposited]:
    return [MoneyDeposited(account_id=account, amount=1 + i, currency="EUR") for i in range(count)]


def to(stream, expected, events) -> StreamAppend:
    return StreamAppend(stream, expected, events, [Metadata(actor_id=stream) for _ in events])


def watch_event_inserts(db) -> list[str]:
    """The INSERTs into `events` sent from now on (by any connection of `db`)."""
    seen = []

    @event.listens_for(db.engine, "before_cursor_execute")
    def record(conn, cursor, statement, *args):
        if statement.startswith("INSERT INTO events "):
            seen.append(statement)

    return seen


def test_positions_follow_the_input_order_and_versions_each_stream(database):
    with database.write() as conn:
        store.append(conn, "account-b", 0, [opened("b")], [Metadata()])
    inserts = watch_event_inserts(database)
    appends = [
        to("account-a", 0, [opened("a"), *deposits("a", 2)]),
        to("account-b", 1, deposits("b", 3)),  # a stream that already has an event
        to("account-c", 0, []),  # nothing to append: an empty list back
        to("account-d", 0, [opened("d")]),
    ]
    with database.write() as conn:
        recorded = store.append_many(conn, appends)
    assert len(inserts) == 1
    assert [[(r.stream_id, r.version) for r in rs] for rs in recorded] == [
        [("account-a", 1), ("account-a", 2), ("account-a", 3)],
        [("account-b", 2), ("account-b", 3), ("account-b", 4)],
        [],
        [("account-d", 1)],
    ]
    flat = [r for rs in recorded for r in rs]
    positions = [r.position for r in flat]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    assert [r.event for r in flat] == [e for a in appends for e in a.events]
    assert [r.meta for r in flat] == [m for a in appends for m in a.metas]
    with database.read() as conn:
        assert store.read_all(conn)[1:] == flat  # read back, after account-b's first event
        assert store.stream_version(conn, "account-b") == 4
        assert store.load_stream(conn, "account-c") == []


def test_positions_are_paired_with_rows_whatever_order_the_database_returns(database, monkeypatch):
    class Reversed:  # RETURNING's rows, last first
        def __init__(self, result):
            self.rows = result.all()[::-1]

        def all(self):
            return self.rows

    send = Connection.exec_driver_sql

    def send_reversing_inserts(conn, sql, *args):
        result = send(conn, sql, *args)
        return Reversed(result) if sql.startswith("INSERT INTO events ") else result

    monkeypatch.setattr(Connection, "exec_driver_sql", send_reversing_inserts)
    with database.write() as conn:
        recorded = store.append_many(conn, [to("account-a", 0, deposits("a", 3)), to("account-b", 0, [opened("b")])])
    monkeypatch.undo()
    with database.read() as conn:
        assert store.read_all(conn) == recorded[0] + recorded[1]


def test_plain_tuples_do_and_nothing_at_all_sends_nothing(database):
    inserts = watch_event_inserts(database)
    with database.write() as conn:
        assert store.append_many(conn, []) == []
        assert store.append_many(conn, [("account-a", 0, [], [])]) == [[]]
        assert len(inserts) == 0
        (recorded,) = store.append_many(conn, [("account-a", 0, [opened("a")], [Metadata()])])
    assert [(r.stream_id, r.version, r.event) for r in recorded] == [("account-a", 1, opened("a"))]


@pytest.mark.parametrize("stale", [0, 2, 4])
def test_a_conflict_on_any_stream_fails_the_whole_call_and_names_the_streams(database, stale):
    with database.write() as conn:
        store.append(conn, f"account-{stale}", 0, [opened(stale)], [Metadata()])
    appends = [to(f"account-{n}", 0, [opened(n), *deposits(str(n), 2)]) for n in range(5)]
    with pytest.raises(ConcurrencyError) as caught:
        with database.write() as conn:
            store.append_many(conn, appends)
    error = caught.value
    assert error.streams == [(f"account-{n}", 0) for n in range(5)]
    assert error.stream_id is None and error.expected_version is None  # several streams: unknown which
    assert "'account-0' at 0" in str(error)
    with database.read() as conn:
        assert [(r.stream_id, r.version) for r in store.read_all(conn)] == [(f"account-{stale}", 1)]


def test_a_conflict_on_a_lone_stream_names_it(database):
    with database.write() as conn:
        store.append(conn, "account-1", 0, [opened(1)], [Metadata()])
    with pytest.raises(ConcurrencyError) as caught:
        with database.write() as conn:
            store.append_many(conn, [to("account-1", 0, [opened(1)])])
    assert (caught.value.stream_id, caught.value.expected_version) == ("account-1", 0)
    assert caught.value.streams == [("account-1", 0)]


def test_more_rows_than_one_insert_takes_span_statements(database):
    sizes = [_ROWS_PER_INSERT // 2, _ROWS_PER_INSERT // 2 + 7, 3, _ROWS_PER_INSERT]  # streams cross the cuts
    appends = [to(f"account-{n}", 0, deposits(str(n), size)) for n, size in enumerate(sizes)]
    inserts = watch_event_inserts(database)
    with database.write() as conn:
        recorded = store.append_many(conn, appends)
    assert len(inserts) == math.ceil(sum(sizes) / _ROWS_PER_INSERT) == 3
    assert [[r.version for r in rs] for rs in recorded] == [list(range(1, size + 1)) for size in sizes]
    flat = [r for rs in recorded for r in rs]
    positions = [r.position for r in flat]
    assert positions == sorted(positions) and len(set(positions)) == len(flat)
    with database.read() as conn:
        assert store.read_all(conn) == flat
        assert [r.event for r in store.load_stream(conn, "account-1")] == appends[1].events


def test_a_conflict_in_a_later_statement_names_its_streams_and_undoes_the_earlier_ones(database):
    with database.write() as conn:
        store.append(conn, "account-late", 0, [opened("late")], [Metadata()])
    appends = [
        to("account-early", 0, deposits("early", _ROWS_PER_INSERT - 1)),
        to("account-both", 0, deposits("both", 2)),  # its second row starts the second statement
        to("account-late", 0, [opened("late")]),  # stale
    ]
    with pytest.raises(ConcurrencyError) as caught:
        with database.write() as conn:
            store.append_many(conn, appends)
    assert caught.value.streams == [("account-both", 0), ("account-late", 0)]
    with database.read() as conn:
        assert store.count(conn) == 1


def test_one_stream_twice_in_a_call_is_refused(database):
    with pytest.raises(ValueError, match="account-a"):
        with database.write() as conn:
            store.append_many(conn, [to("account-a", 0, [opened("a")]), to("account-b", 0, [opened("b")]),
                                     to("account-a", 1, deposits("a", 1))])
    with database.read() as conn:
        assert store.count(conn) == 0


def test_the_append_lock_is_taken_once_for_all_streams(database):
    if not database.is_postgresql:
        pytest.skip("SQLite needs no append lock")
    locks = []

    @event.listens_for(database.engine, "before_cursor_execute")
    def record(conn, cursor, statement, *args):
        if "pg_advisory_xact_lock" in statement:
            locks.append(statement)

    with database.write() as conn:
        store.append_many(conn, [to(f"account-{n}", 0, [opened(n)]) for n in range(5)])
        store.append_many(conn, [to(f"account-{n}", 1, deposits(str(n), 1)) for n in range(5)])
    assert len(locks) == 1
