"""The mailer's petition emails: the scenarios of tests/unit/mailer/petition_cases.py on
SQLite and PostgreSQL, and the petitions events published on RabbitMQ to
`petitions.events`, as the petitions relay will publish them."""
import os
import uuid
from datetime import datetime, timezone

import pytest
from kombu import Connection, Exchange, Producer
from sqlalchemy import select

from mailer.application import MailerApp
from mailer.projections import petition_followers
from mailer.service import MailerService
from umpnet_kernel.database import Database
from umpnet_kernel.links import LinkTokens
from umpnet_kernel.topology import PERSISTENT, events_exchange

from tests.unit.mailer.petition_cases import *  # noqa: F401,F403 (the scenarios, collected here)
from tests.unit.mailer.petition_cases import EXPIRES, SECRET

from ..conftest import link_in, read_mails, wait_until

pytestmark = pytest.mark.integration
LINKS = LinkTokens("test-secret")  # platform_config's SECRET_KEY


@pytest.fixture(params=["sqlite", "postgresql"])
def app(request, migrated_url):
    db = Database(migrated_url("mailer", request.param))
    yield MailerApp(db, "http://testserver", "UMPnet <n@umpnet.invalid>", SECRET)
    db.dispose()


def publish(config, event_type, data):
    """One petitions event, as the petitions outbox relay publishes it."""
    event_id = str(uuid.uuid4())
    body = {"event_id": event_id, "event_type": event_type, "schema_version": 1,
            "stream_id": f"signature-{data.get('signature_id', data['petition_id'])}", "stream_version": 1,
            "position": 1, "occurred_at": datetime.now(timezone.utc).isoformat(), "actor_id": None,
            "correlation_id": None, "causation_id": None, "data": data}
    with Connection(config["AMQP_URI"]) as conn:
        Producer(conn.channel(), exchange=events_exchange("petitions")).publish(
            body, routing_key=event_type, message_id=event_id, headers={"event_type": event_type},
            delivery_mode=PERSISTENT, serializer="json")


def test_a_signer_gets_the_confirmation_link_then_the_petitions_milestone(run_service, platform_config):
    db = Database(run_service(MailerService).config["DATABASE_URL"])
    with Connection(platform_config["AMQP_URI"]) as conn:  # the mailer declared the exchange it binds to
        Exchange("petitions.events", type="topic", durable=True)(conn.channel()).declare(passive=True)
    mail_dir = os.path.join(platform_config["DATA_DIR"], "mail")
    petition, signature = str(uuid.uuid4()), str(uuid.uuid4())
    publish(platform_config, "petitions.SignatureRequested", {
        "signature_id": signature, "petition_id": petition, "petition_title": "Sauvons la ligne 14",
        "email": "lea@example.org", "first_name": "Léa", "link_nonce": "sig-nonce",
        "expires_at": EXPIRES.isoformat(), "contact_consent": True})
    (message,) = wait_until(lambda: [m for m in read_mails(mail_dir) if m["To"] == "lea@example.org"])
    assert message["Subject"] == "Confirmez votre signature : « Sauvons la ligne 14 »"
    assert link_in(message, "http://testserver/petitions/confirm?") == (
        f"http://testserver/petitions/confirm?token={LINKS.token('petition-signature', 'sig-nonce')}")

    publish(platform_config, "petitions.SignatureConfirmed", {
        "signature_id": signature, "petition_id": petition, "federation_code": "29", "member_id": None,
        "referred_by": None, "contact_consent": True})

    def following():  # the confirmation has a queue of its own: let it be handled before the milestone
        with db.read() as conn:
            return conn.execute(select(petition_followers.c.following)).scalars().all() == [True]

    try:
        wait_until(following)
    finally:
        db.dispose()
    publish(platform_config, "petitions.MilestoneReached", {
        "petition_id": petition, "petition_title": "Sauvons la ligne 14", "milestone": 50, "signature_count": 500,
        "goal": 1000})
    (news,) = wait_until(lambda: [m for m in read_mails(mail_dir) if m["Subject"].startswith("La pétition")])
    assert news["To"] == "lea@example.org"
    assert news["Subject"] == "La pétition « Sauvons la ligne 14 » a atteint 50\u00a0% de son objectif"
    assert link_in(news, "http://testserver/petitions/") == f"http://testserver/petitions/{petition}"
