"""The mailer's petition emails on the in-memory database (petition_cases.py)."""
import pytest

from mailer.application import MailerApp
from mailer.projections import read_models
from umpnet_kernel.testing import in_memory
from umpnet_kernel.throttle import throttle_metadata

from .petition_cases import *  # noqa: F401,F403 (the scenarios, collected here)
from .petition_cases import SECRET


@pytest.fixture
def app():
    app = in_memory(lambda db: MailerApp(db, "http://testserver", "UMPnet <n@umpnet.invalid>", SECRET), read_models,
                    throttle_metadata)
    yield app
    app.db.dispose()



def test_a_petitions_event_the_mailer_cannot_read_is_refused_as_malformed():
    from mailer.service import SignatureRequested
    from umpnet_kernel.messages import PermanentFailure

    from .petition_cases import petitions_event, requested

    data = requested("lea@example.org").data
    for wrong in ({"petition_id": "p" * 37}, {"expires_at": "2026-12-09T13:05:00"}, {"email": "pas-une-adresse"}):
        with pytest.raises(PermanentFailure):  # parked by the subscriber, never retried
            petitions_event("petitions.SignatureRequested", {**data, **wrong}, SignatureRequested())
    assert petitions_event("petitions.SignatureRequested", data, SignatureRequested()).payload["contact_consent"] is True
