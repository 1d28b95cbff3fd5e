"""`database.py`: which unique key an IntegrityError is about, on each backend."""
import pytest
from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from umpnet_kernel.database import violates_unique_key
from umpnet_kernel.events import Metadata
from umpnet_kernel.store import EventStore, KeyTaken, events_table, insert_once, processed_table

from sample_domain import AccountOpened, balances

store = EventStore()


def integrity_error(db, statement, *rows) -> IntegrityError:
    with pytest.raises(IntegrityError) as caught:
        with db.write() as conn:
            for row in rows:
                conn.execute(statement, row)
    return caught.value


def test_the_stream_key_is_told_apart_from_the_other_keys_of_events(database):
    meta = Metadata()
    with database.write() as conn:
        store.append(conn, "account-1", 0, [AccountOpened(account_id="1", owner="Ann")], [meta])
    row = {"stream_id": "account-1", "version": 1, "event_id": "other", "event_type": "t", "schema_version": 1,
           "data": "{}", "meta": "{}", "recorded_at": meta.occurred_at}
    same_version = integrity_error(database, insert(events_table), row)
    assert violates_unique_key(same_version, events_table, ("stream_id", "version"))
    assert not violates_unique_key(same_version, events_table, ("event_id",))
    same_id = integrity_error(database, insert(events_table), {**row, "version": 2, "event_id": meta.event_id})
    assert violates_unique_key(same_id, events_table, ("event_id",))
    assert not violates_unique_key(same_id, events_table, ("stream_id", "version"))
    no_data = integrity_error(database, insert(events_table), {**row, "version": 2, "data": None})
    assert not violates_unique_key(no_data, events_table, ("stream_id", "version"))


def test_unique_columns_and_primary_keys_of_read_models_are_named_too(database):
    row = {"account_id": "a1", "owner": "Ann", "balance": 0}
    same_owner = integrity_error(database, insert(balances), row, {**row, "account_id": "a2"})
    assert violates_unique_key(same_owner, balances, ("owner",))
    assert not violates_unique_key(same_owner, balances, ("account_id",))
    same_id = integrity_error(database, insert(balances), row, {**row, "owner": "Bob"})
    assert violates_unique_key(same_id, balances, ("account_id",))


def test_a_duplicate_kernel_key_is_a_race_and_anything_else_a_bug(database):
    key = ("consumer", "event_id")
    values = {"consumer": "c", "event_id": "e1", "processed_at": Metadata().occurred_at}
    with database.write() as conn:
        insert_once(conn, insert(processed_table), values, processed_table, key)
    with pytest.raises(KeyTaken):
        with database.write() as conn:
            insert_once(conn, insert(processed_table), values, processed_table, key)
    with pytest.raises(IntegrityError):
        with database.write() as conn:
            insert_once(conn, insert(processed_table), {**values, "event_id": None}, processed_table, key)
