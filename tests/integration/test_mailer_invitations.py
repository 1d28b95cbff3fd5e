"""The invitation email (issue 8 item 5): `members.InvitationSent` published on RabbitMQ as the
members relay does; an invitation marked not to be emailed sends nothing."""
import os
import uuid
from datetime import datetime, timezone

import eventlet
import pytest
from kombu import Connection, Producer

from mailer.service import MailerService
from umpnet_kernel.links import LinkTokens
from umpnet_kernel.topology import PERSISTENT, events_exchange

from ..conftest import link_in, read_mails, wait_until

pytestmark = pytest.mark.integration
LINKS = LinkTokens("test-secret")  # platform_config's SECRET_KEY


def publish_invitation(config, email, nonce, emailed=True):
    invitation_id, event_id = str(uuid.uuid4()), str(uuid.uuid4())
    data = {"invitation_id": invitation_id, "inviter_id": str(uuid.uuid4()), "email": email,
            "inviter_name": "Camille M.", "link_nonce": nonce, "expires_at": datetime.now(timezone.utc).isoformat(),
            "emailed": emailed}
    body = {"event_id": event_id, "event_type": "members.InvitationSent", "schema_version": 1,
            "stream_id": f"invitation-{invitation_id}", "stream_version": 1, "position": 1,
            "occurred_at": datetime.now(timezone.utc).isoformat(), "actor_id": None, "correlation_id": None,
            "causation_id": None, "data": data}
    with Connection(config["AMQP_URI"]) as conn:
        Producer(conn.channel(), exchange=events_exchange("members")).publish(
            body, routing_key="members.InvitationSent", message_id=event_id,
            headers={"event_type": "members.InvitationSent"}, delivery_mode=PERSISTENT, serializer="json")


@pytest.fixture
def mail_dir(run_service, platform_config):
    run_service(MailerService)
    return os.path.join(platform_config["DATA_DIR"], "mail")


def test_the_invitee_gets_the_invitation_with_the_sign_up_link(mail_dir, platform_config):
    publish_invitation(platform_config, "lucas@example.org", "inv-nonce")
    (message,) = wait_until(lambda: [m for m in read_mails(mail_dir) if m["To"] == "lucas@example.org"])
    assert message["Subject"] == "Camille M. vous invite à rejoindre la fédération numérique"
    link = link_in(message, "http://testserver/inscription?")
    assert link == f"http://testserver/inscription?invitation={LINKS.token('invitation', 'inv-nonce')}"


def test_an_invitation_not_to_be_emailed_sends_nothing(mail_dir, platform_config):
    publish_invitation(platform_config, "quiet@example.org", "n1", emailed=False)
    publish_invitation(platform_config, "after@example.org", "n2")
    wait_until(lambda: [m for m in read_mails(mail_dir) if m["To"] == "after@example.org"])
    eventlet.sleep(0.5)
    assert [m for m in read_mails(mail_dir) if m["To"] == "quiet@example.org"] == []
