"""`unit_of_work.py`: the aggregates a command touches, appended and projected together."""
import pytest
from sqlalchemy import event

from umpnet_kernel.application import Application
from umpnet_kernel.events import Context
from umpnet_kernel.projections import Projection, handles
from umpnet_kernel.store import processed_table
from umpnet_kernel.testing import dump_tables

from sample_domain import Account, AccountOpened, Balances, DepositLog, MoneyDeposited, balances, deposit, deposit_log, open_account


def watch_event_inserts(db) -> list[str]:
    """The INSERTs into `events` sent from now on (by any connection of `db`)."""
    seen = []

    @event.listens_for(db.engine, "before_cursor_execute")
    def record(conn, cursor, statement, *args):
        if statement.startswith("INSERT INTO events "):
            seen.append(statement)

    return seen


def test_an_aggregate_asked_for_twice_in_one_command_is_one_object(app):
    open_account(app, "a1", "Ann")

    def deposit_twice(uow):
        first, again = uow.get(Account, "a1"), uow.get(Account, "a1")
        assert first is again
        first.deposit(2)
        again.deposit(3)

    app.execute(Context(), deposit_twice)
    with app.read() as conn:
        assert dump_tables(conn, [balances])["balances"] == [("a1", "Ann", 5, '["t"]')]
        assert app.store.stream_version(conn, "account-a1") == 3


def test_several_aggregates_come_from_one_query_and_stay_the_ones_held(app):
    for id, owner in [("a1", "Ann"), ("a2", "Bob"), ("a3", "Cy")]:
        open_account(app, id, owner)
    deposit(app, "a2", 7)
    stream_reads = []

    def count_stream_reads(conn, cursor, statement, parameters, context, executemany):
        if statement.lstrip().upper().startswith("SELECT") and "stream_id IN" in statement:
            stream_reads.append(statement)

    def command(uow):
        held = uow.get(Account, "a1")
        found = uow.get_many(Account, ["a1", "a2", "nobody", "a3"])
        assert found["a1"] is held and uow.get(Account, "a2") is found["a2"]
        found["a2"].deposit(1)
        found["a3"].deposit(2)
        return {id: (account.owner, account.balance) for id, account in found.items()}

    event.listen(app.db.engine, "before_cursor_execute", count_stream_reads)
    try:
        got = app.execute(Context(), command)
    finally:
        event.remove(app.db.engine, "before_cursor_execute", count_stream_reads)
    assert got == {"a1": ("Ann", 0), "a2": ("Bob", 8), "a3": ("Cy", 2)}
    assert len(stream_reads) == 1  # a2 and a3 together; a1 was already held
    with app.read() as conn:
        assert {row[0]: row[2] for row in dump_tables(conn, [balances])["balances"]} == {"a1": 0, "a2": 8, "a3": 2}


def test_get_many_without_holding_leaves_the_order_of_appends_to_the_caller(app):
    """`hold=False` (a batch decided item by item): loaded in one query, appended only once added."""
    for account_id, owner in (("a1", "Ann"), ("a2", "Bob")):
        app.execute(Context(), lambda uow, i=account_id, o=owner: uow.add(Account.open(i, o)))

    def command(uow):
        found = uow.get_many(Account, ["a2", "a1", "a2"], hold=False)
        assert list(found) == ["a2", "a1"]
        found["a1"].deposit(3)
        found["a2"].deposit(4)
        uow.add(found["a1"])  # a2 is never added: its deposit is not saved
        assert uow.get(Account, "a1") is found["a1"]

    app.execute(Context(), command)
    with app.read() as conn:
        assert {row[0]: row[2] for row in dump_tables(conn, [balances])["balances"]} == {"a1": 3, "a2": 0}


def test_first_delivery_is_true_once_per_consumer(app):
    def handle(uow):
        return uow.first_delivery("mailer.on_x", "event-1")

    assert app.execute(Context(), handle) is True
    assert app.execute(Context(), handle) is False
    assert app.execute(Context(), lambda uow: uow.first_delivery("other", "event-1")) is True


def test_checkpoints_refuse_older_versions_of_a_stream(app):
    def seen(version):
        return app.execute(Context(), lambda uow: uow.advance_checkpoint("c", "member-1", version))

    assert [seen(2), seen(1), seen(2), seen(3)] == [True, False, False, True]


def test_a_delivery_handled_twice_at_once_is_decided_again_to_already_handled(app):
    if app.db.is_sqlite:
        pytest.skip("SQLite write transactions exclude each other from BEGIN: this race cannot happen")
    attempts = []

    def other_delivery_commits_first(conn, cursor, statement, *args):
        # between our SELECT (nothing yet) and our INSERT, the other delivery commits
        if statement.startswith("INSERT INTO processed_messages") and len(attempts) == 1 and not raced:
            raced.append(1)
            app.execute(Context(), lambda other: other.first_delivery("mailer.on_x", "event-1"))

    raced = []

    def handle(uow):
        attempts.append(1)
        return uow.first_delivery("mailer.on_x", "event-1")

    event.listen(app.db.engine, "before_cursor_execute", other_delivery_commits_first)
    try:
        assert app.execute(Context(), handle) is False
    finally:
        event.remove(app.db.engine, "before_cursor_execute", other_delivery_commits_first)
    assert len(attempts) == 2 and raced == [1]
    with app.read() as conn:
        assert conn.execute(processed_table.select()).all()[0].event_id == "event-1"


# -- through the unit of work ---------------------------------------------------------
class Seen(Projection):
    """Remembers the events it was given, in order."""

    name = "seen"

    def __init__(self):
        self.applied = []

    @handles(AccountOpened, MoneyDeposited)
    def record(self, conn, event, recorded):
        self.applied.append((recorded.stream_id, recorded.version, recorded.position, event))


@pytest.fixture
def seen():
    return Seen()


@pytest.fixture
def app_seeing(database, seen):
    return Application(database, [Balances(), DepositLog(), seen])


def test_a_unit_of_work_appends_all_its_aggregates_in_one_statement(app_seeing, seen):
    app = app_seeing
    app.execute(Context(), lambda uow: uow.add(Account.open("old", "Olga")))
    heard = []
    app.on_commit(heard.extend)
    inserts = watch_event_inserts(app.db)

    def import_accounts(uow):
        old = uow.get(Account, "old")
        for n in range(3):
            account = Account.open(f"new{n}", f"owner{n}")
            account.deposit(10 + n)
            account.deposit(20 + n)
            uow.add(account)
        old.deposit(5)  # loaded first, so flushed first, though it changed last

    app.execute(Context(actor_id="importer"), import_accounts)
    assert len(inserts) == 1

    expected = [("account-old", 2)] + [(f"account-new{n}", v) for n in range(3) for v in (1, 2, 3)]
    applied = seen.applied[1:]  # after Olga's opening
    assert [(stream, version) for stream, version, _, _ in applied] == expected
    positions = [position for _, _, position, _ in applied]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    assert [event for *_, event in applied][:4] == [
        MoneyDeposited(account_id="old", amount=5, currency="EUR"),
        AccountOpened(account_id="new0", owner="owner0"),
        MoneyDeposited(account_id="new0", amount=10, currency="EUR"),
        MoneyDeposited(account_id="new0", amount=20, currency="EUR"),
    ]
    keys = [(stream, version, position) for stream, version, position, _ in applied]
    assert [(r.stream_id, r.version, r.position) for r in heard] == keys
    assert all(r.meta.actor_id == "importer" for r in heard)
    with app.read() as conn:
        assert [(r.stream_id, r.version, r.position) for r in app.store.read_all(conn)][1:] == keys
        tables = dump_tables(conn, [balances, deposit_log])
    assert tables["balances"] == [
        ("new0", "owner0", 30, "[]"), ("new1", "owner1", 32, "[]"), ("new2", "owner2", 34, "[]"),
        ("old", "Olga", 5, "[]"),
    ]
    assert sorted(tables["deposit_log"]) == [
        (position, e.account_id, e.amount) for _, _, position, e in applied if isinstance(e, MoneyDeposited)
    ]


def test_a_unit_of_work_with_one_stale_aggregate_is_decided_again(app_seeing):
    app = app_seeing
    if app.db.is_sqlite:
        pytest.skip("SQLite write transactions exclude each other from BEGIN: this race cannot happen")
    for id in ("a", "b"):
        app.execute(Context(), lambda uow, id=id: uow.add(Account.open(id, f"owner-{id}")))
    attempts = []

    def deposit_to_both(uow):
        a, b = uow.get(Account, "a"), uow.get(Account, "b")
        if not attempts:  # someone else deposits to b between our read and our append
            app.execute(Context(), lambda other: other.get(Account, "b").deposit(100))
        attempts.append(b.balance)
        a.deposit(1)
        b.deposit(1)

    app.execute(Context(), deposit_to_both)
    assert attempts == [0, 100]
    with app.read() as conn:
        assert app.store.stream_version(conn, "account-a") == 2
        assert app.store.stream_version(conn, "account-b") == 3


def test_a_unit_of_work_holding_one_stream_twice_is_refused(app_seeing):
    app = app_seeing
    # `uow.get` hands out the aggregate it already holds; two aggregates built
    # for one new stream are a bug in the command, not a race to retry.
    def open_twice(uow):
        uow.add(Account.open("a", "Ann"))
        uow.add(Account.open("a", "Bob"))

    with pytest.raises(ValueError, match="account-a"):
        app.execute(Context(), open_twice)
    with app.read() as conn:
        assert app.store.count(conn) == 0


def test_a_query_loads_aggregates_as_a_command_does_and_may_record_nothing(app):
    open_account(app, "a1", "Ann")
    deposit(app, "a1", 4)
    seen = watch_event_inserts(app.db)
    assert app.query(Context(), lambda uow: uow.get(Account, "a1").balance) == 4

    def records(uow):
        uow.get(Account, "a1").deposit(1)

    with pytest.raises(RuntimeError):
        app.query(Context(), records)
    assert seen == []
    assert app.query(Context(), lambda uow: uow.get(Account, "a1").balance) == 4
