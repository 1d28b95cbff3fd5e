import pytest
from sqlalchemy import event
from sqlalchemy.exc import IntegrityError

from umpnet_kernel.application import Application
from umpnet_kernel.errors import Conflict
from umpnet_kernel.events import Context
from umpnet_kernel.projections import rebuild
from umpnet_kernel.testing import dump_tables, given_when_then

from sample_domain import Account, AccountOpened, Balances, DepositLog, MoneyDeposited, balances, deposit_log


@pytest.fixture
def app(database):
    return Application(database, [Balances(), DepositLog()])


def open_account(app, id, owner):
    return app.execute(Context(actor_id=owner), lambda uow: uow.add(Account.open(id, owner, tags=["t"])))


def deposit(app, id, amount):
    def command(uow):
        account = uow.get(Account, id)
        account.deposit(amount)
        return account.balance

    return app.execute(Context(), command)


def test_a_command_appends_events_and_updates_read_models_in_one_go(app):
    open_account(app, "a1", "Ann")
    assert deposit(app, "a1", 5) == 5
    with app.read() as conn:
        assert dump_tables(conn, [balances])["balances"] == [("a1", "Ann", 5, '["t"]')]
        assert app.store.stream_version(conn, "account-a1") == 2


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


def test_a_refused_command_writes_nothing(app):
    open_account(app, "a1", "Ann")
    with pytest.raises(Conflict):
        deposit(app, "a1", -1)
    with app.read() as conn:
        assert app.store.count(conn) == 1


def test_a_failing_projection_rolls_back_the_append(app):
    open_account(app, "a1", "Ann")
    # `owner` is unique in the read model: the second append must not survive it
    with pytest.raises(IntegrityError):
        open_account(app, "a2", "Ann")
    with app.read() as conn:
        assert app.store.count(conn) == 1
        assert [r[0] for r in dump_tables(conn, [balances])["balances"]] == ["a1"]


def test_a_read_model_integrity_error_is_a_bug_raised_at_once_not_a_lost_race(app):
    # The command does not check the owner is free, and the read model refuses
    # a second account of Ann's: whatever the state, every attempt would fail
    # the same way. It must surface as itself (a 500), not be run again five
    # times and answered 409 as if another writer had won.
    open_account(app, "a1", "Ann")
    attempts = []

    def open_another_for_ann(uow):
        attempts.append(1)
        uow.add(Account.open("a2", "Ann"))

    with pytest.raises(IntegrityError) as caught:
        app.execute(Context(), open_another_for_ann)
    assert not isinstance(caught.value, Conflict)
    assert len(attempts) == 1
    with app.read() as conn:
        assert app.store.count(conn) == 1


def test_an_integrity_error_of_the_store_other_than_the_stream_key_is_not_a_race(app):
    # Two events with one id (a bug: ids are new uuids): the events table's
    # unique event_id refuses the second. Not a stream conflict: raised at once.
    open_account(app, "a1", "Ann")
    attempts = []

    def reuse_an_event_id(uow):
        attempts.append(1)
        with app.read() as conn:
            (first,) = app.store.load_stream(conn, "account-a1")
        uow.store.append(uow.conn, "account-a2", 0, [AccountOpened(account_id="a2", owner="Bob")], [first.meta])

    with pytest.raises(IntegrityError):
        app.execute(Context(), reuse_an_event_id)
    assert len(attempts) == 1


def test_a_command_that_lost_a_race_is_decided_again_on_fresh_state(app):
    if app.db.is_sqlite:
        pytest.skip("SQLite write transactions exclude each other from BEGIN: this race cannot happen")
    open_account(app, "a1", "Ann")
    calls = []

    def racing_deposit(uow):
        account = uow.get(Account, "a1")
        if not calls:  # someone else deposits between our read and our append
            deposit(app, "a1", 10)
        calls.append(account.balance)
        account.deposit(1)
        return account.balance

    assert app.execute(Context(), racing_deposit) == 11
    assert calls == [0, 10]


def test_commit_listeners_hear_of_what_was_recorded(app):
    heard = []
    app.on_commit(heard.append)
    open_account(app, "a1", "Ann")
    assert [r.event for r in heard[0]] == [AccountOpened(account_id="a1", owner="Ann", tags=("t",))]


def test_rebuilding_reproduces_the_live_read_models(app):
    for n in range(30):
        open_account(app, f"a{n}", f"owner{n}")
        for amount in range(n % 4):
            deposit(app, f"a{n}", amount + 1)
    tables = [balances, deposit_log]
    with app.read() as conn:
        live = dump_tables(conn, tables)
    with app.db.write() as conn:
        replayed = rebuild(conn, app.store, app.projections)
    with app.read() as conn:
        assert dump_tables(conn, tables) == live
        assert replayed == app.store.count(conn)


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


def test_aggregates_can_be_tested_given_when_then():
    new = given_when_then(Account, "a1", [AccountOpened(account_id="a1", owner="Ann")], lambda a: a.deposit(3))
    assert new == [MoneyDeposited(account_id="a1", amount=3, currency="EUR")]


def test_concurrent_commands_on_sqlite_share_commits_yet_each_stands_alone(tmp_path):
    import eventlet
    from sqlalchemy import event

    from umpnet_kernel.store import create_kernel_tables
    from umpnet_kernel.testing import temporary_database

    from sample_domain import read_models

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
                open_account(app, f"a{n}", owner)
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
