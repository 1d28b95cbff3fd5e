"""The per-address cap on the emails anyone can make the mailer send (application.py, `CAPPED_EMAILS`)."""
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select

from mailer.application import MailerApp, RateLimit
from mailer.projections import emails, read_models
from mailer.service import PasswordResetRequested, VerificationRequested
from umpnet_kernel.messages import IncomingEvent
from umpnet_kernel.testing import in_memory
from umpnet_kernel.throttle import throttle_counters, throttle_metadata

SECRET = "test-secret"


@pytest.fixture
def app():
    app = in_memory(lambda db: MailerApp(db, "http://testserver", "UMPnet <n@umpnet.invalid>", SECRET, RateLimit(count=3)),
                    read_models, throttle_metadata)
    yield app
    app.db.dispose()


def members_event(event_type, email, schema, **data):
    return IncomingEvent.from_envelope({
        "event_id": str(uuid.uuid4()), "event_type": event_type, "schema_version": 2, "stream_id": "member-x",
        "stream_version": 1, "position": 1, "occurred_at": datetime.now(timezone.utc).isoformat(), "actor_id": None,
        "correlation_id": None, "causation_id": None,
        "data": {"member_id": str(uuid.uuid4()), "email": email, "first_name": "Léa", "link_nonce": "n", **data},
    }, schema)


def statuses(app):
    with app.read() as conn:
        return sorted(conn.execute(select(emails.c.status)).scalars())


def test_the_cap_counts_every_capped_kind_together_and_addresses_whatever_their_case(app):
    app.queue_verification_email(members_event("members.EmailVerificationRequested", "lea@example.org", VerificationRequested()))
    app.queue_password_reset_email(members_event("members.PasswordResetRequested", "Lea@Example.org", PasswordResetRequested()))
    app.queue_verification_email(members_event("members.EmailVerificationRequested", "LEA@example.org", VerificationRequested()))
    app.queue_password_reset_email(members_event("members.PasswordResetRequested", "lea@example.org", PasswordResetRequested()))
    app.queue_verification_email(members_event("members.EmailVerificationRequested", "noe@example.org", VerificationRequested()))
    assert statuses(app) == ["pending"] * 4 + ["suppressed"]


def test_the_counters_name_no_address_and_ended_windows_are_pruned(app):
    app.queue_verification_email(members_event("members.EmailVerificationRequested", "lea@example.org", VerificationRequested()))
    with app.read() as conn:
        [(key, count, ends)] = conn.execute(select(throttle_counters)).all()
    assert count == 1 and "lea" not in key and len(key) == 64
    assert app.prune_counters() == 0  # its window is running
    with app.db.write() as conn:
        conn.execute(throttle_counters.update().values(window_ends_at=datetime.now(timezone.utc) - timedelta(seconds=1)))
    assert app.prune_counters() == 0  # once a minute at most
    app._next_prune = 0
    assert app.prune_counters() == 1
