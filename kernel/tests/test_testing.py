"""What the in-memory database adds to the store contract (test_store_contract.py)."""
import pytest
from sqlalchemy import inspect

from umpnet_kernel.events import Metadata
from umpnet_kernel.store import get_cursor
from umpnet_kernel.testing import InMemoryDatabase

from sample_domain import AccountOpened, balances, read_models


def test_it_holds_the_tables_sql_code_writes_but_not_the_events():
    db = InMemoryDatabase(read_models)
    with db.read() as conn:
        tables = set(inspect(conn).get_table_names())
        assert {balances.name, "event_cursors", "processed_messages", "command_outcomes"} <= tables
        assert "events" not in tables
        assert get_cursor(conn, "relay") == 0


def test_a_transaction_inside_another_is_refused_rather_than_waiting_forever():
    db = InMemoryDatabase(read_models)
    with db.write() as conn:
        db.store.append(conn, "account-1", 0, [AccountOpened(account_id="1", owner="Ann")], [Metadata()])
        with pytest.raises(RuntimeError, match="inside another"):
            with db.read():
                pass
    with db.read() as conn:
        assert db.store.count(conn) == 1  # the outer transaction was not disturbed


def test_its_store_is_used_only_inside_a_transaction():
    db = InMemoryDatabase()
    with pytest.raises(RuntimeError, match="outside a transaction"):
        db.store.count(object())
