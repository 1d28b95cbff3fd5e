"""The store contract (store_contract.py) on each event store: SQLite, PostgreSQL, in memory."""
from typing import Callable, NamedTuple

import pytest

from umpnet_kernel.application import Application
from umpnet_kernel.store import EventStore, create_kernel_tables
from umpnet_kernel.testing import InMemoryDatabase, temporary_database

from sample_domain import read_models
from store_contract import *  # noqa: F401,F403 (the contract's tests, collected here)


class Backend(NamedTuple):
    db: object
    store: object
    application: Callable[[list], Application]


@pytest.fixture(params=["sqlite", "postgresql", "memory"])
def backend(request, tmp_path):
    if request.param == "memory":
        db = InMemoryDatabase(read_models)
        yield Backend(db, db.store, lambda projections: db.application(lambda db: Application(db, projections)))
        db.dispose()
        return
    with temporary_database(request.param, str(tmp_path)) as db:
        with db.write() as conn:
            create_kernel_tables(conn)
            read_models.create_all(conn)
        yield Backend(db, EventStore(), lambda projections: Application(db, projections))
