"""The mailer's side of an erasure, and its export: scenarios through `MailerApp`,
run in memory (test_privacy.py) and on SQLite and PostgreSQL
(tests/integration/test_mailer_privacy.py); each module gives the `app` fixture."""
import uuid
from datetime import datetime, timezone

from sqlalchemy import select

from mailer.events import EmailQueued
from mailer.projections import emails, read_models
from mailer.service import MemberErased, VerificationRequested
from umpnet_kernel.messages import IncomingEvent
from umpnet_kernel.shredding import subject_keys
from umpnet_kernel.testing import dump_tables

SECRET = "test-secret"
ZOE, LEA = str(uuid.uuid4()), str(uuid.uuid4())


def incoming(event_type, data, schema, event_id=None):
    return IncomingEvent.from_envelope({
        "event_id": event_id or str(uuid.uuid4()), "event_type": event_type, "schema_version": 2,
        "stream_id": f"member-{data['member_id']}", "stream_version": 1, "position": 1,
        "occurred_at": datetime.now(timezone.utc).isoformat(), "actor_id": None, "correlation_id": None,
        "causation_id": None, "data": data,
    }, schema)


def verification_for(app, member_id, email, first_name):
    app.queue_verification_email(incoming("members.EmailVerificationRequested", {
        "member_id": member_id, "email": email, "first_name": first_name, "link_nonce": "n0nce"},
        VerificationRequested()))


def erased(member_id, event_id=None):
    return incoming("members.MemberErased", {"member_id": member_id}, MemberErased(), event_id)


def two_members(app):
    verification_for(app, ZOE, "zoe@example.org", "Zoé")
    verification_for(app, ZOE, "zoe@example.org", "Zoé")  # a resend
    verification_for(app, LEA, "lea@example.org", "Léa")


def test_the_export_lists_the_members_emails_only(app):
    two_members(app)
    export = app.export_personal_data(ZOE)
    assert [(e["kind"], e["recipient"], e["status"]) for e in export["emails"]] == [
        ("verification", "zoe@example.org", "pending")] * 2
    assert app.export_personal_data(str(uuid.uuid4())) == {
        "emails": [], "directory": None, "reply_notifications": "digest", "pending_replies": [], "blogs": [],
        "campaigns_written": []}


def test_an_erasure_drops_the_members_emails_and_key_once_and_a_rebuild_keeps_them_out(app):
    two_members(app)
    event = erased(ZOE)
    assert app.forget_member(event) is True
    with app.read() as conn:
        rows = conn.execute(select(emails.c.member_id, emails.c.recipient)).all()
        assert [tuple(r) for r in rows] == [(LEA, "lea@example.org")]
        assert conn.execute(select(subject_keys.c.subject_id)).scalars().all() == [LEA]
        count = app.store.count(conn)
        queued = [r.event for r in app.store.read_all(conn) if isinstance(r.event, EmailQueued)]
    assert sorted((e.member_id, e.to, e.inputs.get("first_name")) for e in queued) == sorted(
        [(ZOE, "", None), (ZOE, "", None), (LEA, "lea@example.org", "Léa")])
    assert app.export_personal_data(ZOE)["emails"] == []
    # a redelivery does nothing
    assert app.forget_member(event) is False
    with app.read() as conn:
        assert app.store.count(conn) == count
        live = dump_tables(conn, read_models.sorted_tables)
    app.rebuild_read_models()
    with app.read() as conn:
        assert dump_tables(conn, read_models.sorted_tables) == live
    # an erasure of a member the mailer never wrote to is harmless
    assert app.forget_member(erased(str(uuid.uuid4()))) is True


def invitation_to(app, email, inviter_name="Camille M."):
    from mailer.service import InvitationSent

    invitation_id = str(uuid.uuid4())
    app.queue_invitation_email(IncomingEvent.from_envelope({
        "event_id": str(uuid.uuid4()), "event_type": "members.InvitationSent", "schema_version": 1,
        "stream_id": f"invitation-{invitation_id}", "stream_version": 1, "position": 1,
        "occurred_at": datetime.now(timezone.utc).isoformat(), "actor_id": None, "correlation_id": None,
        "causation_id": None, "data": {
            "invitation_id": invitation_id, "inviter_id": str(uuid.uuid4()), "email": email,
            "inviter_name": inviter_name, "link_nonce": "inv-nonce",
            "expires_at": datetime.now(timezone.utc).isoformat(), "emailed": True}}, InvitationSent()))


def invitation_rows(app):
    with app.read() as conn:
        return sorted((r.recipient, r.status, r.inputs) for r in conn.execute(
            select(emails.c.recipient, emails.c.status, emails.c.inputs).where(emails.c.kind == "invitation")))


def queued_invitations(app):
    with app.read() as conn:
        return sorted((e.to, e.inputs.get("inviter_name")) for e in
                      (r.event for r in app.store.read_all(conn)) if isinstance(e, EmailQueued) and e.kind == "invitation")


def assert_rebuild_gives_the_same_rows(app):
    with app.read() as conn:
        live = dump_tables(conn, read_models.sorted_tables)
    app.rebuild_read_models()
    with app.read() as conn:
        assert dump_tables(conn, read_models.sorted_tables) == live


def test_an_invitation_email_keeps_its_address_until_it_is_delivered(app, tmp_path):
    from mailer.transports import FileSink

    invitation_to(app, "lucas@example.org")
    assert queued_invitations(app) == [("lucas@example.org", "Camille M.")]
    with app.read() as conn:  # sealed with its own key: the email's id
        [email_id] = conn.execute(select(emails.c.email_id)).scalars().all()
        assert conn.execute(select(subject_keys.c.subject_id)).scalars().all() == [email_id]
    assert app.deliver_due(FileSink(str(tmp_path))) == 1
    assert (tmp_path / f"{email_id}.eml").exists()
    assert invitation_rows(app) == [("", "sent", None)]
    assert queued_invitations(app) == [("", None)]  # its key is gone
    with app.read() as conn:
        assert conn.execute(select(subject_keys.c.subject_id)).scalars().all() == []
    assert_rebuild_gives_the_same_rows(app)


def test_an_erased_members_pending_invitation_emails_are_forgotten_and_never_sent(app, tmp_path):
    from mailer.transports import FileSink

    sink = FileSink(str(tmp_path))
    app.mail_dir = str(tmp_path)
    verification_for(app, ZOE, "zoe@example.org", "Zoé")
    invitation_to(app, "Zoe@example.org")  # delivered: the sink's copy is addressed to her
    invitation_to(app, "lea@example.org")
    assert app.deliver_due(sink) == 3
    invitation_to(app, "zoe@example.org", "Léa M.")  # still pending at her erasure
    assert len(list(tmp_path.glob("*.eml"))) == 3
    assert app.forget_member(erased(ZOE)) is True
    assert invitation_rows(app) == [("", "forgotten", None), ("", "sent", None), ("", "sent", None)]
    assert queued_invitations(app) == [("", None)] * 3
    assert app.deliver_due(sink) == 0
    remaining = list(tmp_path.glob("*.eml"))  # Léa's invitation only
    assert [b"lea@example.org" in p.read_bytes() for p in remaining] == [True]
    assert_rebuild_gives_the_same_rows(app)


def test_an_erasure_takes_the_rate_limit_counters_of_the_members_addresses(app):
    from umpnet_kernel.throttle import throttle_counters

    two_members(app)
    with app.read() as conn:
        assert len(conn.execute(select(throttle_counters.c.key)).scalars().all()) == 2  # one per address
    app.forget_member(erased(ZOE))
    with app.read() as conn:
        [left] = conn.execute(select(throttle_counters.c.key)).scalars().all()
    from mailer.privacy import recipient_key
    assert left == recipient_key(SECRET, "lea@example.org")
