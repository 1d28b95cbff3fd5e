"""The mailer's meeting and debate-reply emails from events published on RabbitMQ, as the
members, events and debates relays publish them: each email once though its event comes
twice, and none lost while the mailer is down (its queues keep the events)."""
import os
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from kombu import Connection, Producer

from mailer.service import MailerService
from umpnet_kernel.database import Database
from umpnet_kernel.topology import PERSISTENT, events_exchange

from tests.unit.mailer.feeds import envelope, meeting_data

from ..conftest import read_mails, wait_until

pytestmark = pytest.mark.integration


def publish(config, source, body):
    with Connection(config["AMQP_URI"]) as conn:
        Producer(conn.channel(), exchange=events_exchange(source)).publish(
            body, routing_key=body["event_type"], message_id=body["event_id"],
            headers={"event_type": body["event_type"]}, delivery_mode=PERSISTENT, serializer="json")


def a_member(config, address, first_name, postcode="75011", themes=("sante",)):
    member_id = str(uuid.uuid4())
    stream = f"member-{member_id}"
    publish(config, "members", envelope("members.MemberRegistered", {
        "member_id": member_id, "email": address, "first_name": first_name, "last_name": "X", "postcode": postcode,
        "city": "Paris", "federation_code": postcode[:2], "themes": list(themes)}, stream, 1))
    publish(config, "members", envelope("members.EmailVerified", {"member_id": member_id}, stream, 2))
    publish(config, "members", envelope("members.ProfileUpdated", {
        "member_id": member_id, "first_name": first_name, "last_name": "X", "postcode": postcode, "city": "Paris",
        "federation_code": postcode[:2], "themes": list(themes), "bio": "", "blog_url": None, "map_visible": False,
        "contact_consent": True}, stream, 3))
    return member_id


def writable_members(container) -> int:
    db = Database(container.config["DATABASE_URL"])
    try:
        with db.read() as conn:
            return conn.exec_driver_sql(
                "SELECT count(*) FROM recipients WHERE verified AND contact_consent AND email != ''").scalar()
    finally:
        db.dispose()


def mails(mail_dir, subject_start):
    return [m for m in read_mails(mail_dir) if str(m["Subject"]).startswith(subject_start)]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_meeting_emails_go_once_each_and_none_is_lost_while_the_mailer_is_down(
        run_service, container_factory, platform_config, backend):
    container = run_service(MailerService, backend)
    mail_dir = os.path.join(platform_config["DATA_DIR"], "mail")
    lea = a_member(platform_config, "lea@example.org", "Léa")
    a_member(platform_config, "far@example.org", "Loin", postcode="13001")  # Marseille
    wait_until(lambda: writable_members(container) == 2)

    meeting = str(uuid.uuid4())
    starts = datetime.now(timezone.utc) + timedelta(days=7)
    data = meeting_data(meeting, starts_at=starts.isoformat(), ends_at=(starts + timedelta(hours=2)).isoformat())
    published = envelope("events.MeetingPublished", data, f"meeting-{meeting}", 1)
    publish(platform_config, "events", published)
    publish(platform_config, "events", published)  # the relay published it again (at least once)
    (announcement,) = wait_until(lambda: mails(mail_dir, "Nouvelle réunion"))
    assert announcement["To"] == "lea@example.org"

    confirmed = envelope("events.RegistrationConfirmed", {"meeting_id": meeting, "member_id": lea},
                         f"meeting-{meeting}", 2)
    publish(platform_config, "events", confirmed)
    publish(platform_config, "events", confirmed)
    (confirmation,) = wait_until(lambda: mails(mail_dir, "Inscription confirmée"))
    assert confirmation["To"] == "lea@example.org"

    container.stop()  # the mailer is down: the events wait in its queues
    publish(platform_config, "events", envelope("events.MeetingCancelled", {
        "meeting_id": meeting, "reason": "Salle indisponible", "cancelled_by": data["organizer_id"]},
        f"meeting-{meeting}", 3))
    later = container_factory(MailerService, container.config)
    later.start()
    (cancellation,) = wait_until(lambda: mails(mail_dir, "Réunion annulée"))
    assert cancellation["To"] == "lea@example.org" and "Salle indisponible" in str(cancellation.get_body(("plain",)))
    eventlet_pause()
    assert len(mails(mail_dir, "Nouvelle réunion")) == 1 and len(mails(mail_dir, "Inscription confirmée")) == 1


def eventlet_pause(seconds=1.0):
    import eventlet

    eventlet.sleep(seconds)  # time for a doubled email to show, if one were queued


def test_a_reply_reaches_a_member_who_chose_each_once(run_service, platform_config):
    container = run_service(MailerService)
    mail_dir = os.path.join(platform_config["DATA_DIR"], "mail")
    lea, zoe = a_member(platform_config, "lea@example.org", "Léa"), a_member(platform_config, "zoe@example.org", "Zoé")
    wait_until(lambda: writable_members(container) == 2)
    publish(platform_config, "debates", envelope("debates.ReplyNotificationsChosen", {"member_id": lea, "mode": "each"},
                                                 f"settings-{lea}", 1))
    debate = str(uuid.uuid4())
    body = envelope("debates.ContributionPosted", {
        "contribution_id": str(uuid.uuid4()), "debate_id": debate, "debate_title": "L'école rurale",
        "parent_id": str(uuid.uuid4()), "parent_author_id": lea, "author_id": zoe, "body": "Bien dit."},
        f"debate-{debate}", 5)
    eventlet_pause(1.0)  # the choice and the reply come on separate queues: the choice first
    publish(platform_config, "debates", body)
    publish(platform_config, "debates", body)
    (reply,) = wait_until(lambda: mails(mail_dir, "Zoé vous a répondu"))
    assert reply["To"] == "lea@example.org"
    eventlet_pause()
    assert len(mails(mail_dir, "Zoé vous a répondu")) == 1
