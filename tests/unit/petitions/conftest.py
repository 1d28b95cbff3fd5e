"""Fixtures of the petitions scenario modules, in memory here; on SQLite and PostgreSQL
the same scenarios get theirs from tests/integration/test_petitions_use_cases.py."""
import pytest

from petitions.projections import read_models
from umpnet_kernel.testing import in_memory
from umpnet_kernel.throttle import throttle_metadata

from .petition_cases import SECRET, build_app


@pytest.fixture
def app():
    app = in_memory(lambda db: build_app(db), read_models, throttle_metadata)
    yield app
    app.db.dispose()
