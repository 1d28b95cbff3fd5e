"""The contract every event store passes: SQLite, PostgreSQL and in memory.

The tests take a `backend` fixture (see test_store_contract.py) with `db` (a
database: `write()` and `read()` transactions), `store` (its event store) and
`application(projections)`. They say what a store promises, whatever holds
it: a use case tested on the in-memory store behaves as it will in production.
"""
from __future__ import annotations

import threading

import pytest

from umpnet_kernel.errors import Conflict
from umpnet_kernel.events import Context, Metadata
from umpnet_kernel.store import ConcurrencyError, get_cursor, set_cursor
from umpnet_kernel.testing import dump_tables

from sample_domain import (
    Account,
    AccountAudited,
    AccountOpened,
    Balances,
    DepositLog,
    MoneyDeposited,
    balances,
    deposit_log,
)


def opened(n, owner=None, tags=()):
    return AccountOpened(account_id=str(n), owner=owner or f"owner{n}", tags=tuple(tags))


def deposited(n, amount):
    return MoneyDeposited(account_id=str(n), amount=amount, currency="EUR")


def append(backend, stream_id, expected_version, *events):
    with backend.db.write() as conn:
        return backend.store.append(conn, stream_id, expected_version, events, [Metadata() for _ in events])


def everything(backend):
    with backend.db.read() as conn:
        return backend.store.read_all(conn)


class Boom(Exception):
    pass


# -- appending and reading ---------------------------------------------------
def test_a_stream_reads_back_what_was_appended_in_version_order_with_its_metadata(backend):
    meta = Metadata(actor_id="m1", correlation_id="c1", causation_id="e0")
    with backend.db.write() as conn:
        backend.store.append(conn, "account-1", 0, [opened(1, tags=["x", "y"])], [meta])
        backend.store.append(conn, "account-1", 1, [deposited(1, 5), deposited(1, 7)], [Metadata(), Metadata()])
    with backend.db.read() as conn:
        stream = backend.store.load_stream(conn, "account-1")
        assert [r.event for r in stream] == [opened(1, tags=["x", "y"]), deposited(1, 5), deposited(1, 7)]
        assert [r.version for r in stream] == [1, 2, 3]
        assert stream[0].meta == meta and stream[0].recorded_at.tzinfo is not None
        assert [r.event for r in backend.store.load_stream(conn, "account-1", after_version=2)] == [deposited(1, 7)]
        assert backend.store.stream_version(conn, "account-1") == 3
        assert backend.store.stream_version(conn, "account-2") == 0
        assert backend.store.load_stream(conn, "account-2") == []


def test_what_append_answers_is_what_a_read_gives_back(backend):
    (answered,) = append(backend, "account-1", 0, opened(1))
    (read,) = everything(backend)
    assert answered.position == read.position and answered.version == read.version == 1
    assert (answered.stream_id, answered.event, answered.meta) == (read.stream_id, read.event, read.meta)


def test_several_streams_load_at_once_and_a_stream_without_events_is_absent(backend):
    append(backend, "account-2", 0, opened(2), deposited(2, 1))
    append(backend, "account-1", 0, opened(1))
    append(backend, "account-2", 2, deposited(2, 2))
    with backend.db.read() as conn:
        streams = backend.store.load_streams(conn, ["account-1", "account-2", "account-3"])
    assert {s: [r.version for r in records] for s, records in streams.items()} == {"account-1": [1], "account-2": [1, 2, 3]}
    assert streams["account-2"][2].event == deposited(2, 2)


# -- optimistic concurrency --------------------------------------------------
def test_a_version_already_taken_is_a_conflict_and_the_transaction_keeps_nothing(backend):
    append(backend, "account-1", 0, opened(1))
    with pytest.raises(ConcurrencyError) as raised:
        with backend.db.write() as conn:
            backend.store.append(conn, "account-9", 0, [opened(9)], [Metadata()])  # fine on its own...
            backend.store.append(conn, "account-1", 0, [deposited(1, 5)], [Metadata()])  # ...but not this
    assert (raised.value.stream_id, raised.value.expected_version) == ("account-1", 0)
    assert [(r.stream_id, r.version) for r in everything(backend)] == [("account-1", 1)]


def test_appending_to_many_streams_is_all_or_nothing_and_names_them(backend):
    append(backend, "account-2", 0, opened(2))
    with pytest.raises(ConcurrencyError) as raised:
        with backend.db.write() as conn:
            backend.store.append_many(conn, [
                ("account-1", 0, [opened(1)], [Metadata()]),
                ("account-2", 0, [opened(2)], [Metadata()]),  # stale
            ])
    assert raised.value.stream_id is None and raised.value.streams == [("account-1", 0), ("account-2", 0)]
    assert len(everything(backend)) == 1


def test_one_stream_twice_in_one_call_is_a_mistake_not_a_race(backend):
    with pytest.raises(ValueError, match="account-1"):
        with backend.db.write() as conn:
            backend.store.append_many(conn, [
                ("account-1", 0, [opened(1)], [Metadata()]),
                ("account-1", 1, [deposited(1, 1)], [Metadata()]),
            ])
    assert everything(backend) == []


def test_a_rolled_back_append_leaves_its_versions_free(backend):
    with pytest.raises(Boom):
        with backend.db.write() as conn:
            backend.store.append(conn, "account-1", 0, [opened(1)], [Metadata()])
            with conn.begin_nested():
                pass  # a savepoint released inside: its appends stay with the transaction
            raise Boom()
    with backend.db.write() as conn:
        backend.store.append(conn, "account-1", 0, [opened(1, "Ann")], [Metadata()])
        savepoint = conn.begin_nested()
        backend.store.append(conn, "account-1", 1, [deposited(1, 5)], [Metadata()])
        savepoint.rollback()  # only what was appended after the savepoint is undone
        backend.store.append(conn, "account-1", 1, [deposited(1, 6)], [Metadata()])
    assert [r.event for r in everything(backend)] == [opened(1, "Ann"), deposited(1, 6)]


def test_an_event_id_is_stored_once(backend):
    meta = Metadata()
    with backend.db.write() as conn:
        backend.store.append(conn, "account-1", 0, [opened(1)], [meta])
    with pytest.raises(Exception):  # whatever the backend calls it, the second copy is refused
        with backend.db.write() as conn:
            backend.store.append(conn, "account-2", 0, [opened(2)], [meta])
    assert len(everything(backend)) == 1


def test_concurrent_writers_each_get_their_own_positions_and_one_stream_has_one_winner(backend):
    """Eight writers of their own streams all commit; of eight racing for one
    version of a shared stream exactly one does; positions never repeat."""
    append(backend, "account-shared", 0, opened("shared"))
    start = threading.Barrier(16)
    outcomes = []

    def writer(stream_id, expected_version, event):
        start.wait()
        try:
            append(backend, stream_id, expected_version, event)
            outcomes.append(stream_id)
        except ConcurrencyError:
            outcomes.append("conflict")

    threads = [threading.Thread(target=writer, args=(f"account-{n}", 0, opened(n))) for n in range(8)]
    threads += [threading.Thread(target=writer, args=("account-shared", 1, deposited("shared", n))) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outcomes.count("conflict") == 7 and outcomes.count("account-shared") == 1
    stored = everything(backend)
    positions = [r.position for r in stored]
    assert positions == sorted(set(positions)) and len(stored) == 1 + 8 + 1
    with backend.db.read() as conn:
        assert backend.store.head_position(conn) == positions[-1]
        assert backend.store.count(conn) == 10
        assert [r.version for r in backend.store.load_stream(conn, "account-shared")] == [1, 2]


# -- positions: the outbox -----------------------------------------------------
def test_positions_are_global_and_increase_in_commit_order(backend):
    append(backend, "account-1", 0, opened(1))
    append(backend, "account-2", 0, opened(2), deposited(2, 1))
    append(backend, "account-1", 1, deposited(1, 3))
    stored = everything(backend)
    assert [(r.stream_id, r.version) for r in stored] == [
        ("account-1", 1), ("account-2", 1), ("account-2", 2), ("account-1", 2)
    ]
    assert [r.position for r in stored] == sorted({r.position for r in stored})
    with backend.db.read() as conn:
        assert backend.store.head_position(conn) == stored[-1].position


def test_the_outbox_reads_after_a_position_in_order_by_type_and_in_batches(backend):
    append(backend, "account-1", 0, opened(1), deposited(1, 1))
    append(backend, "account-2", 0, opened(2), AccountAudited(account_id="2"), deposited(2, 2))
    stored = everything(backend)
    with backend.db.read() as conn:
        store = backend.store
        assert store.read_all(conn, after_position=stored[1].position) == stored[2:]
        assert store.read_all(conn, after_position=stored[0].position, limit=2) == stored[1:3]
        deposits = store.read_all(conn, event_types={MoneyDeposited.event_name})
        assert [r.event for r in deposits] == [deposited(1, 1), deposited(2, 2)]
        assert store.read_all(conn, after_position=stored[-1].position) == []
        assert list(store.iter_all(conn, batch_size=2)) == stored
        assert list(store.iter_all(conn, batch_size=1, event_types={AccountOpened.event_name})) == [stored[0], stored[2]]


def test_cursors_start_at_zero_move_and_roll_back_with_their_transaction(backend):
    with backend.db.read() as conn:
        assert get_cursor(conn, "relay") == 0
    with backend.db.write() as conn:
        set_cursor(conn, "relay", 3)
        set_cursor(conn, "relay", 5)
    with pytest.raises(Boom):
        with backend.db.write() as conn:
            set_cursor(conn, "relay", 9)
            raise Boom()
    with backend.db.read() as conn:
        assert (get_cursor(conn, "relay"), get_cursor(conn, "other")) == (5, 0)


# -- the unit of work on this store --------------------------------------------
def deposit(app, id, amount):
    def command(uow):
        uow.get(Account, id).deposit(amount)

    app.execute(Context(), command)


def test_a_command_appends_and_projects_in_one_transaction_or_not_at_all(backend):
    app = backend.application([Balances(), DepositLog()])
    app.execute(Context(), lambda uow: uow.add(Account.open("a1", "Ann")))
    deposit(app, "a1", 5)

    def deposits_then_fails(uow):
        uow.get(Account, "a1").deposit(7)
        uow.flush()
        raise Boom()

    with pytest.raises(Boom):
        app.execute(Context(), deposits_then_fails)
    with app.read() as conn:
        assert dump_tables(conn, [balances, deposit_log]) == {
            "balances": [("a1", "Ann", 5, "[]")],
            "deposit_log": [(2, "a1", 5)],
        }
        assert app.store.count(conn) == 2


def test_a_consumers_processed_mark_commits_with_its_effect(backend):
    """A handler that fails after marking the message leaves no mark: the
    redelivery runs it; once it succeeded, a redelivery does nothing."""
    app = backend.application([Balances()])
    attempts = []

    def handle(fail):
        def command(uow):
            if not uow.first_delivery("test.on_opened", "event-1"):
                return "already done"
            attempts.append(fail)
            uow.add(Account.open("a1", "Ann"))
            if fail:
                raise Boom()
            return "done"

        return command

    with pytest.raises(Boom):
        app.execute(Context(), handle(fail=True))
    assert app.execute(Context(), handle(fail=False)) == "done"
    assert app.execute(Context(), handle(fail=False)) == "already done"
    assert attempts == [True, False]
    assert app.execute(Context(), lambda uow: uow.first_delivery("test.other_consumer", "event-1")) is True
    with app.read() as conn:
        assert app.store.count(conn) == 1


def test_a_stale_append_runs_the_whole_command_again_then_gives_up(backend):
    app = backend.application([Balances()])
    app.execute(Context(), lambda uow: uow.add(Account.open("a1", "Ann")))
    calls = []

    def stale_once(uow):
        calls.append(uow.get(Account, "a1").version)
        version = 0 if len(calls) == 1 else uow.get(Account, "a1").version  # the first attempt is stale
        uow.append("account-a1", version, [deposited("a1", 4)])

    app.execute(Context(), stale_once)
    assert calls == [1, 1]
    with pytest.raises(Conflict):
        app.execute(Context(), lambda uow: uow.append("account-a1", 0, [deposited("a1", 1)]))
    with app.read() as conn:
        assert [r.version for r in app.store.load_stream(conn, "account-a1")] == [1, 2]


def test_a_rebuild_from_the_store_gives_the_live_read_models(backend):
    app = backend.application([Balances(), DepositLog()])
    for n in range(6):
        app.execute(Context(), lambda uow, n=n: uow.add(Account.open(f"a{n}", f"owner{n}", tags=[str(n)])))
        for amount in range(n % 3):
            deposit(app, f"a{n}", amount + 1)
    with app.read() as conn:
        live = dump_tables(conn, [balances, deposit_log])
    assert app.rebuild_read_models() == len(everything(backend))
    with app.read() as conn:
        assert dump_tables(conn, [balances, deposit_log]) == live
