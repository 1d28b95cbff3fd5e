"""The emails the mailer sends for the members events it consumes, each event
published as a real message on RabbitMQ (as the members relay publishes it),
and the rate limit that caps what one address receives (issue 6 items 5, 7, 8)."""
import glob
import os
import stat
import uuid
from datetime import datetime, timezone

import eventlet
import pytest
from kombu import Connection, Producer
from sqlalchemy import MetaData, select

from mailer.projections import emails
from mailer.service import MailerService
from umpnet_kernel.database import Database
from umpnet_kernel.links import LinkTokens
from umpnet_kernel.topology import PERSISTENT, Subscription, events_exchange, queue_depths

from ..conftest import link_in, read_mails, wait_until

pytestmark = pytest.mark.integration

LINKS = LinkTokens("test-secret")  # platform_config's SECRET_KEY


def publish(config, event_type, data, schema_version=1, event_id=None):
    """One members event, as the members outbox relay publishes it."""
    event_id = event_id or str(uuid.uuid4())
    body = {
        "event_id": event_id, "event_type": event_type, "schema_version": schema_version,
        "stream_id": f"member-{data['member_id']}", "stream_version": 1, "position": 1,
        "occurred_at": datetime.now(timezone.utc).isoformat(),
        "actor_id": None, "correlation_id": None, "causation_id": None, "data": data,
    }
    with Connection(config["AMQP_URI"]) as conn:
        producer = Producer(conn.channel(), exchange=events_exchange("members"))
        producer.publish(
            body, routing_key=event_type, message_id=event_id, headers={"event_type": event_type},
            delivery_mode=PERSISTENT, serializer="json",
        )
    return event_id


def to(email, **extra):
    return {"member_id": str(uuid.uuid4()), "email": email, "first_name": "Léa", **extra}


def mails_to(mail_dir, address):
    return [m for m in read_mails(mail_dir) if m["To"] == address]


def rows(url):
    db = Database(url)
    try:
        with db.read() as conn:
            return list(conn.execute(select(emails)).mappings())
    finally:
        db.dispose()


@pytest.fixture
def mailer(run_service, platform_config):
    container = run_service(MailerService)
    platform_config["DATABASE_URL"] = container.config["DATABASE_URL"]
    return os.path.join(platform_config["DATA_DIR"], "mail")


def test_a_v2_verification_request_sends_a_link_with_the_token_made_from_its_nonce(mailer, platform_config):
    publish(platform_config, "members.EmailVerificationRequested", to("lea@example.org", link_nonce="n0nce"), 2)
    (message,) = wait_until(lambda: mails_to(mailer, "lea@example.org"))
    assert message["Subject"] == "Confirmez votre adresse e-mail"
    link = link_in(message, "http://testserver/verify?")
    assert link == f"http://testserver/verify?token={LINKS.token('verify-email', 'n0nce')}"


def test_a_v1_verification_request_with_a_token_still_sends_its_link(mailer, platform_config):
    publish(platform_config, "members.EmailVerificationRequested", to("old@example.org", token="v1-token"), 1)
    (message,) = wait_until(lambda: mails_to(mailer, "old@example.org"))
    assert link_in(message, "http://testserver/verify?") == "http://testserver/verify?token=v1-token"


def test_a_password_reset_request_sends_the_reset_link(mailer, platform_config):
    publish(platform_config, "members.PasswordResetRequested", to("reset@example.org", link_nonce="r-nonce"))
    (message,) = wait_until(lambda: mails_to(mailer, "reset@example.org"))
    assert message["Subject"] == "Réinitialisez votre mot de passe"
    link = link_in(message, "http://testserver/password-reset?")
    assert LINKS.nonce_of("reset-password", link.split("token=", 1)[1]) == "r-nonce"
    assert "une heure" in message.get_body(("plain",)).get_content()


def test_a_duplicate_sign_up_tells_the_owner_they_already_have_an_account(mailer, platform_config):
    publish(platform_config, "members.DuplicateSignUpAttempted", to("owner@example.org"))
    (message,) = wait_until(lambda: mails_to(mailer, "owner@example.org"))
    assert message["Subject"] == "Vous avez déjà un compte"
    assert link_in(message, "http://testserver/connexion") == "http://testserver/connexion"
    assert link_in(message, "http://testserver/mot-de-passe-oublie") == "http://testserver/mot-de-passe-oublie"


def test_no_more_than_five_account_emails_reach_one_address_in_an_hour(mailer, platform_config):
    # Item 5: twenty resends and resets for one address (the members service
    # limits requests too: this is the last line of defence).
    for n in range(20):
        kind = ("members.EmailVerificationRequested", "members.PasswordResetRequested")[n % 2]
        publish(platform_config, kind, to("target@example.org", link_nonce=f"n{n}"), 2)
    publish(platform_config, "members.DuplicateSignUpAttempted", to("target@example.org"))
    publish(platform_config, "members.DuplicateSignUpAttempted", to("bystander@example.org"))
    wait_until(lambda: mails_to(mailer, "bystander@example.org"))
    url = platform_config["DATABASE_URL"]
    wait_until(lambda: len([r for r in rows(url) if r["recipient"] == "target@example.org"]) == 21)
    eventlet.sleep(0.5)  # anything sent beyond the limit would show up now
    assert len(mails_to(mailer, "target@example.org")) == 5
    statuses = sorted(r["status"] for r in rows(url) if r["recipient"] == "target@example.org")
    assert statuses == ["sent"] * 5 + ["suppressed"] * 16


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_nothing_stored_by_the_mailer_can_verify_the_address_it_wrote_to(run_service, platform_config, backend):
    # Item 8: the token is in the email, never in the mailer's database.
    platform_config["DATABASE_URL"] = run_service(MailerService, backend).config["DATABASE_URL"]
    mailer = os.path.join(platform_config["DATA_DIR"], "mail")
    publish(platform_config, "members.EmailVerificationRequested", to("secret@example.org", link_nonce="nonce-8"), 2)
    (message,) = wait_until(lambda: mails_to(mailer, "secret@example.org"))
    token = LINKS.token("verify-email", "nonce-8")
    mac = token.split(".", 1)[1]
    assert token in link_in(message, "http://testserver/verify?")
    url = platform_config["DATABASE_URL"]
    wait_until(lambda: [r["status"] for r in rows(url)] == ["sent"])

    db = Database(url)
    try:
        tables = MetaData()
        tables.reflect(db.engine)
        with db.read() as conn:
            every_row = [tuple(row) for table in tables.sorted_tables for row in conn.execute(select(table))]
    finally:
        db.dispose()
    assert any("secret@example.org" in repr(row) for row in every_row)  # the search does find what is there
    assert not any(mac in repr(row) for row in every_row)

    if backend != "sqlite":
        return  # PostgreSQL's files are the server's: the rows above are what it holds
    path = url.removeprefix("sqlite:///")
    files = glob.glob(path + "*")  # the database, its WAL and journal
    assert path in files
    for name in files:
        with open(name, "rb") as f:
            assert mac.encode() not in f.read(), name


def test_the_eml_sink_is_readable_by_its_owner_only(mailer, platform_config):
    publish(platform_config, "members.DuplicateSignUpAttempted", to("private@example.org"))
    wait_until(lambda: mails_to(mailer, "private@example.org"))
    assert stat.S_IMODE(os.stat(mailer).st_mode) == 0o700
    for path in glob.glob(os.path.join(mailer, "*.eml")):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o600


def test_a_verification_request_with_neither_nonce_nor_token_is_parked_not_sent(mailer, platform_config):
    publish(platform_config, "members.EmailVerificationRequested", to("nolink@example.org"), 2)
    parked = Subscription(
        "members", "members.EmailVerificationRequested", "mailer", "on_email_verification_requested"
    ).parked_queue_name
    wait_until(lambda: queue_depths(platform_config["AMQP_URI"], [parked])[parked] == 1)
    assert mails_to(mailer, "nolink@example.org") == []
    assert rows(platform_config["DATABASE_URL"]) == []
