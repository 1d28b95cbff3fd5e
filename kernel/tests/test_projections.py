"""`projections.py`: read models derived from events, rebuilt to the same rows."""
import pytest

from umpnet_kernel.application import Application
from umpnet_kernel.events import Context
from umpnet_kernel.projections import rebuild
from umpnet_kernel.testing import dump_tables

from sample_domain import Account, Balances, DepositLog, balances, deposit_log


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
