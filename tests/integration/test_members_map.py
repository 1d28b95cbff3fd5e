"""The map of activists (tests/unit/members/map_cases.py) on SQLite and PostgreSQL, no broker needed."""
import pytest

from members.application import MembersApp
from umpnet_kernel.database import Database

from tests.unit.members.map_cases import *  # noqa: F401,F403 (the scenarios, collected here)
from tests.unit.members.use_cases import SECRET


@pytest.fixture(params=["sqlite", "postgresql"])
def app(request, migrated_url):
    db = Database(migrated_url("members", request.param))
    yield MembersApp(db, SECRET)
    db.dispose()
