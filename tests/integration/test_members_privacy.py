"""Export and erasure (tests/unit/members/privacy_cases.py) on SQLite and PostgreSQL."""
import pytest
from argon2 import PasswordHasher

from members import security
from members.application import MembersApp
from umpnet_kernel.database import Database

from tests.unit.members.privacy_cases import *  # noqa: F401,F403 (the scenarios, collected here)
from tests.unit.members.use_cases import SECRET


@pytest.fixture(autouse=True)
def quick_password_hashing(monkeypatch):
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture(params=["sqlite", "postgresql"])
def app(request, migrated_url):
    db = Database(migrated_url("members", request.param))
    yield MembersApp(db, SECRET)
    db.dispose()
