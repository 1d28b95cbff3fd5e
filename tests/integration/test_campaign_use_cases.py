"""The campaigns' scenarios (tests/unit/mailer/campaign_cases.py) on SQLite and PostgreSQL."""
import pytest

from mailer.application import MailerApp
from umpnet_kernel.database import Database

from tests.unit.mailer.campaign_cases import *  # noqa: F401,F403 (the scenarios, collected here)
from tests.unit.mailer.feeds import SECRET

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"])
def app(request, migrated_url):
    db = Database(migrated_url("mailer", request.param))
    yield MailerApp(db, "http://testserver", "UMPnet <n@umpnet.invalid>", SECRET)
    db.dispose()
