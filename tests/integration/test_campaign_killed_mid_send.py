"""A campaign's send survives the mailer being killed (SIGKILL) again and again, while it
queues the segment and while it delivers: every member gets the campaign, one email each
is queued (ids derived from the campaign and the member), and what a real SMTP server
receives twice is at most the one message in flight per kill, with the same Message-ID
(a receiving server may drop it as a duplicate). The mailer runs as its own OS process,
as `make run` runs it; the `.eml` sink would hide duplicates, so it sends by SMTP."""
import random
import signal
import time
from collections import Counter

import pytest
from sqlalchemy import func, select

from mailer.application import MailerApp
from mailer.campaigns import campaign_deliveries
from mailer.projections import emails
from umpnet_kernel.database import Database
from umpnet_kernel.events import Context

from ..unit.mailer.feeds import profile, registered, verified
from .test_mailer_killed_mid_send import recipients, start_mailer, wait_for
from .test_smtp_transport import SmtpPeer

pytestmark = pytest.mark.integration

MEMBERS = 1200  # three pages of the segment: a kill can fall while it is being queued
KILLS = 4
NATIONAL = Context(actor_id="5b0c2a3e-0000-4000-8000-00000000000a", actor_roles=("member", "national_admin"))


def mailer_app(url):
    return MailerApp(Database(url), public_url="http://testserver", sender="UMPnet <noreply@example.org>",
                     secret_key="test-secret")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_campaign_killed_mid_send_reaches_every_member_and_queues_nobody_twice(
        migrated_url, rabbit_config, tmp_path, backend):
    url = migrated_url("mailer", backend)
    app = mailer_app(url)
    members = [f"5b0c2a3e-0000-4000-8000-{n:012d}" for n in range(MEMBERS)]
    for start in range(0, MEMBERS, 200):
        events = []
        for n, member_id in enumerate(members[start:start + 200], start):
            events += [registered(member_id, f"person{n}@example.org", "Léa", "75011"), verified(member_id),
                       profile(member_id, "Léa", "75011", consent=True)]
        app.record_members_events(events)
    created = app.create_campaign({"subject": "Rentrée", "body_markdown": "Bonjour **à tous**", "segment": {}},
                                  NATIONAL)
    assert created["recipient_count"] == MEMBERS
    app.send_campaign(created["id"], NATIONAL)
    app.db.dispose()

    peer = SmtpPeer(delay=0.004)  # slow enough that each incarnation is killed mid-way
    log = open(tmp_path / "mailer.log", "wb")
    rng = random.Random(8)
    try:
        for kill in range(KILLS):
            before = len(peer.envelopes)
            process = start_mailer(url, peer.port, rabbit_config["AMQP_URI"], tmp_path, log)
            try:
                wait_for(lambda: len(peer.envelopes) > before, 60, f"incarnation {kill} to start sending")
                time.sleep(rng.uniform(0.05, 0.6))
            finally:
                process.send_signal(signal.SIGKILL)
                process.wait(10)
            assert len(recipients(peer)) < MEMBERS, "everything was sent before the last kill: slow the peer"

        process = start_mailer(url, peer.port, rabbit_config["AMQP_URI"], tmp_path, log)
        try:
            wait_for(lambda: len(recipients(peer)) == MEMBERS, 180, "every member to get the campaign")
            app = mailer_app(url)
            wait_for(lambda: app.campaign_status(created["id"], NATIONAL)["status"] == "sent", 30, "sent")
            time.sleep(1.0)  # anything sent twice now would show up
        finally:
            process.terminate()
            process.wait(20)
    finally:
        peer.close()
        log.close()

    received = recipients(peer)
    assert set(received) == {f"rcpt to:<person{n}@example.org>" for n in range(MEMBERS)}
    doubled = {rcpt: count for rcpt, count in received.items() if count > 1}
    assert sum(count - 1 for count in doubled.values()) <= KILLS, doubled
    message_ids = Counter(message.split(b"Message-ID: ", 1)[1].split(b"\r\n", 1)[0]
                          for _, _, message in list(peer.envelopes))
    assert len(message_ids) == MEMBERS  # a message sent twice is the same message
    status = app.campaign_status(created["id"], NATIONAL)
    assert (status["status"], status["total"], status["sent"], status["failed"]) == ("sent", MEMBERS, MEMBERS, 0)
    with app.read() as conn:
        assert conn.execute(select(func.count()).select_from(emails).where(emails.c.kind == "campaign")).scalar() \
            == MEMBERS
        assert conn.execute(select(func.count()).select_from(campaign_deliveries)).scalar() == MEMBERS
    app.db.dispose()
