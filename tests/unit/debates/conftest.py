"""The debates scenarios on a migrated SQLite database (tests/integration adds PostgreSQL)."""
import pytest

from umpnet_kernel.database import Database

from .debate_cases import build_app


@pytest.fixture
def app(migrated_url):
    db = Database(migrated_url("debates"))
    yield build_app(db)
    db.dispose()
