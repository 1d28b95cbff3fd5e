"""`projections.py`: read models derived from events, rebuilt to the same rows."""
from umpnet_kernel.projections import rebuild
from umpnet_kernel.testing import dump_tables

from sample_domain import balances, deposit, deposit_log, open_account


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
