"""Fixtures of the trainings scenario module, in memory here; on SQLite and PostgreSQL
the same scenarios get theirs from tests/integration/test_trainings_use_cases.py."""
import pytest

from events.projections import read_models as meetings_read_models
from events.trainings.projections import read_models
from umpnet_kernel.idempotency import outcomes_metadata
from umpnet_kernel.testing import in_memory

from .training_cases import build_app


@pytest.fixture
def app():
    app = in_memory(build_app, read_models, meetings_read_models, outcomes_metadata)  # the service's app: both parts
    yield app
    app.db.dispose()
