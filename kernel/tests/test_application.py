"""`application.py`: a command runs in one transaction, again only when it lost a race."""
import pytest
from sqlalchemy.exc import IntegrityError

from umpnet_kernel.application import Application
from umpnet_kernel.errors import Conflict
from umpnet_kernel.events import Context
from umpnet_kernel.testing import dump_tables, given_when_then

from sample_domain import Account, AccountOpened, Balances, DepositLog, MoneyDeposited, balances


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


def test_aggregates_can_be_tested_given_when_then():
    new = given_when_then(Account, "a1", [AccountOpened(account_id="a1", owner="Ann")], lambda a: a.deposit(3))
    assert new == [MoneyDeposited(account_id="a1", amount=3, currency="EUR")]
