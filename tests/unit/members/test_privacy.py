"""Export and erasure on the in-memory database (privacy_cases.py; on SQLite and
PostgreSQL: tests/integration/test_members_privacy.py)."""
import pytest
from argon2 import PasswordHasher

from members import security
from members.application import MembersApp
from members.projections import read_models
from members.throttle import throttle_metadata
from umpnet_kernel.testing import in_memory

from .privacy_cases import *  # noqa: F401,F403 (the scenarios, collected here)
from .use_cases import SECRET


@pytest.fixture(autouse=True)
def quick_password_hashing(monkeypatch):
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture
def app():
    app = in_memory(lambda db: MembersApp(db, SECRET), read_models, throttle_metadata)
    yield app
    app.db.dispose()


def test_every_event_with_personal_fields_names_whose_they_are():
    """Else its personal fields would be stored in clear, out of reach of an erasure."""
    import mailer.events  # noqa: F401
    import members.events  # noqa: F401
    from umpnet_kernel.shredding import unsealable_classes

    assert unsealable_classes() == []
