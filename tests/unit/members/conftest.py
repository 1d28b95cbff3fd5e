"""Fixtures of the members scenario modules, in memory here; on SQLite and PostgreSQL
the same scenarios get theirs from tests/integration/members_fixtures.py."""
import pytest
from argon2 import PasswordHasher

from members import security
from members.application import MembersApp
from members.projections import read_models
from members.throttle import throttle_metadata
from umpnet_kernel.testing import in_memory

from .use_cases import SECRET


@pytest.fixture
def quick_password_hashing(monkeypatch):
    """argon2 at its cheapest: the use cases' logic, not the hash's cost, is under test
    (a module asks for it with `pytestmark`; test_security.py checks the real cost)."""
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture
def app():
    """`MembersApp` on the in-memory database."""
    app = in_memory(lambda db: MembersApp(db, SECRET), read_models, throttle_metadata)
    yield app
    app.db.dispose()
