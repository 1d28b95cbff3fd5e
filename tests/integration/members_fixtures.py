"""The members scenario modules' fixtures on real databases: each scenario runs on
SQLite and on PostgreSQL. A module imports what it uses:

    from tests.integration.members_fixtures import app, quick_password_hashing  # noqa: F401 (fixtures)
"""
import pytest
from argon2 import PasswordHasher

from members import security
from members.application import MembersApp
from umpnet_kernel.database import Database

from tests.unit.members.use_cases import SECRET


@pytest.fixture(autouse=True)
def quick_password_hashing(monkeypatch):
    """argon2 at its cheapest: the use cases' logic, not the hash's cost, is under test."""
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture(params=["sqlite", "postgresql"])
def app(request, migrated_url):
    """`MembersApp` on each backend; a module's `APP_OPTIONS` dict adds keyword arguments."""
    db = Database(migrated_url("members", request.param))
    yield MembersApp(db, SECRET, **getattr(request.module, "APP_OPTIONS", {}))
    db.dispose()
