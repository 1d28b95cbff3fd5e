"""`application.py`: a command runs in one transaction, again only when it lost a race."""
import pytest
from sqlalchemy import event, insert, select
from sqlalchemy.exc import IntegrityError

from umpnet_kernel.application import Application
from umpnet_kernel.errors import Conflict
from umpnet_kernel.events import Context
from umpnet_kernel.testing import dump_tables, given_when_then

from sample_domain import Account, AccountOpened, Balances, DepositLog, MoneyDeposited, balances, deposit, open_account


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


def test_many_commands_run_in_one_transaction_each_seeing_the_ones_before(app):
    heard = []
    app.on_commit(heard.append)

    def deposit_into(id, amount):
        def command(uow):
            account = uow.get(Account, id)
            account.deposit(amount)
            return account.balance

        return Context(actor_id=f"actor-{amount}"), command

    open_account(app, "a1", "Ann")
    results = app.execute_many([deposit_into("a1", 2), deposit_into("a1", 3)])
    assert results == [2, 5]  # the second command read what the first wrote
    assert len(heard) == 2 and len(heard[1]) == 2  # one commit for both
    with app.read() as conn:
        recorded = app.store.load_stream(conn, "account-a1")
    assert [r.meta.actor_id for r in recorded[1:]] == ["actor-2", "actor-3"]  # each its own context


def test_many_commands_commit_all_or_none(app):
    open_account(app, "a1", "Ann")

    def deposit_into(amount):
        return Context(), lambda uow: uow.get(Account, "a1").deposit(amount)

    with pytest.raises(Conflict):
        app.execute_many([deposit_into(2), deposit_into(-1)])  # the second refuses
    with app.read() as conn:
        assert app.store.stream_version(conn, "account-a1") == 1  # the first was rolled back too


def test_aggregates_can_be_tested_given_when_then():
    new = given_when_then(Account, "a1", [AccountOpened(account_id="a1", owner="Ann")], lambda a: a.deposit(3))
    assert new == [MoneyDeposited(account_id="a1", amount=3, currency="EUR")]


class OneAccountPerOwner(Balances):
    """Balances whose unique owner is a claim: commands check it before opening an account."""

    claims = ((balances, ("owner",)),)


def open_unless_owned(uow, id, owner) -> str:
    if uow.conn.execute(select(balances.c.account_id).where(balances.c.owner == owner)).first():
        return "taken"
    uow.add(Account.open(id, owner))
    return "opened"


def test_a_claimed_read_model_key_taken_meanwhile_is_a_race_decided_again(database):
    if database.is_sqlite:
        pytest.skip("SQLite write transactions exclude each other from BEGIN: this race cannot happen")
    app = Application(database, [OneAccountPerOwner(), DepositLog()])
    attempts, raced = [], []

    def another_opens_for_ann_first(conn, cursor, statement, *args):
        # Between our check (Ann owns nothing) and our row, another transaction
        # commits a row of Ann's. (Its row alone: a whole command would wait
        # for the append lock our transaction holds.)
        if statement.startswith("INSERT INTO balances") and len(attempts) == 1 and not raced:
            raced.append(1)
            with app.db.write() as other:
                other.execute(insert(balances).values(account_id="b1", owner="Ann", balance=0))

    def open_for_ann(uow):
        attempts.append(1)
        return open_unless_owned(uow, "a1", "Ann")

    event.listen(app.db.engine, "before_cursor_execute", another_opens_for_ann_first)
    try:
        assert app.execute(Context(), open_for_ann) == "taken"
    finally:
        event.remove(app.db.engine, "before_cursor_execute", another_opens_for_ann_first)
    assert len(attempts) == 2
    with app.read() as conn:
        assert [r[0] for r in dump_tables(conn, [balances])["balances"]] == ["b1"]
        assert app.store.count(conn) == 0  # our first attempt's events were rolled back


def test_a_claimed_key_still_taken_after_every_attempt_answers_conflict(database):
    app = Application(database, [OneAccountPerOwner(), DepositLog()], max_attempts=3)
    app.execute(Context(), lambda uow: open_unless_owned(uow, "a1", "Ann"))
    attempts = []

    def open_without_checking(uow):
        attempts.append(1)
        uow.add(Account.open("a2", "Ann"))

    with pytest.raises(Conflict):
        app.execute(Context(), open_without_checking)
    assert len(attempts) == 3
    with app.read() as conn:
        assert app.store.count(conn) == 1
