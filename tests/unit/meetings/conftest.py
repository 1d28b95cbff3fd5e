"""Fixtures of the meetings scenario modules, in memory here; on SQLite and PostgreSQL
the same scenarios get theirs from tests/integration/test_meetings_use_cases.py."""
import pytest

from events.projections import read_models
from umpnet_kernel.idempotency import outcomes_metadata
from umpnet_kernel.testing import in_memory

from .meeting_cases import build_app


@pytest.fixture
def app():
    app = in_memory(build_app, read_models, outcomes_metadata)
    yield app
    app.db.dispose()
