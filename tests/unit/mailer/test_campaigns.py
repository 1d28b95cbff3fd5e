"""Campaigns on the in-memory database (campaign_cases.py)."""
import pytest

from mailer.application import MailerApp
from mailer.projections import read_models
from umpnet_kernel.idempotency import outcomes_metadata
from umpnet_kernel.testing import in_memory
from umpnet_kernel.throttle import throttle_metadata

from .campaign_cases import *  # noqa: F401,F403 (the scenarios, collected here)
from .feeds import SECRET


@pytest.fixture
def app():
    app = in_memory(lambda db: MailerApp(db, "http://testserver", "UMPnet <n@umpnet.invalid>", SECRET), read_models,
                    throttle_metadata, outcomes_metadata)
    yield app
    app.db.dispose()
