"""The mailer's petition emails: scenarios through `MailerApp`, run in memory
(test_petitions.py) and on SQLite and PostgreSQL (tests/integration/test_mailer_petitions.py);
each module gives the `app` fixture, capped at 5 emails an address an hour."""
import email
import email.policy
import uuid
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from mailer import application
from mailer.application import email_id_for
from mailer.events import FollowerAddressed
from mailer.projections import emails, petition_followers, read_models
from mailer.service import (
    MilestoneReached,
    SignatureConfirmed,
    SignatureInvalidated,
    SignatureRequested,
    SignerForgotten,
)
from mailer.transports import FileSink
from umpnet_kernel.links import LinkTokens
from umpnet_kernel.messages import IncomingEvent
from umpnet_kernel.shredding import subject_keys
from umpnet_kernel.testing import dump_tables

from .privacy_cases import assert_rebuild_gives_the_same_rows

SECRET = "test-secret"
LINKS = LinkTokens(SECRET)
PETITION = str(uuid.uuid4())
EXPIRES = datetime(2026, 12, 9, 13, 5, tzinfo=timezone.utc)


def petitions_event(event_type, data, schema, event_id=None):
    return IncomingEvent.from_envelope({
        "event_id": event_id or str(uuid.uuid4()), "event_type": event_type, "schema_version": 1,
        "stream_id": f"signature-{data.get('signature_id', data['petition_id'])}", "stream_version": 1, "position": 1,
        "occurred_at": datetime.now(timezone.utc).isoformat(), "actor_id": None, "correlation_id": None,
        "causation_id": None, "data": data,
    }, schema)


def signature_id(address, petition=PETITION):
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{petition}:{address.casefold()}"))


def requested(address, consent=True, petition=PETITION, nonce="s-nonce", first_name="Léa", event_id=None):
    return petitions_event("petitions.SignatureRequested", {
        "signature_id": signature_id(address, petition), "petition_id": petition,
        "petition_title": "Sauvons la ligne 14", "email": address, "first_name": first_name, "link_nonce": nonce,
        "expires_at": EXPIRES.isoformat(), "contact_consent": consent}, SignatureRequested(), event_id)


def confirmed(address, consent=True, petition=PETITION):
    return petitions_event("petitions.SignatureConfirmed", {
        "signature_id": signature_id(address, petition), "petition_id": petition, "federation_code": "75",
        "member_id": None, "referred_by": None, "contact_consent": consent}, SignatureConfirmed())


def invalidated(address, petition=PETITION):
    return petitions_event("petitions.SignatureInvalidated", {
        "signature_id": signature_id(address, petition), "petition_id": petition, "federation_code": "75",
        "reason": "fraud"}, SignatureInvalidated())


def milestone(milestone=50, petition=PETITION, event_id=None):
    return petitions_event("petitions.MilestoneReached", {
        "petition_id": petition, "petition_title": "Sauvons la ligne 14", "milestone": milestone,
        "signature_count": 12345, "goal": 24690}, MilestoneReached(), event_id)


def email_rows(app, kind=None):
    query = select(emails.c.email_id, emails.c.kind, emails.c.recipient, emails.c.status).order_by(emails.c.email_id)
    with app.read() as conn:
        return [tuple(r) for r in conn.execute(query if kind is None else query.where(emails.c.kind == kind))]


def followers(app):
    with app.read() as conn:
        return sorted((r.recipient, r.first_name, r.confirmed, r.following) for r in conn.execute(select(petition_followers)))


def keys(app):
    with app.read() as conn:
        return set(conn.execute(select(subject_keys.c.subject_id)).scalars())


def delivered(app, tmp_path):
    """Send what is due to a file sink: the messages written, parsed, by recipient."""
    app.deliver_due(FileSink(str(tmp_path)), limit=1000)
    messages = [email.message_from_bytes(p.read_bytes(), policy=email.policy.default) for p in tmp_path.glob("*.eml")]
    return {m["To"]: m for m in messages}


def sign_up_follower(app, address, first_name="Léa", petition=PETITION):
    app.queue_petition_confirmation_emails([requested(address, petition=petition, first_name=first_name)])
    app.record_signature_confirmations([confirmed(address, petition=petition)])


# -- the confirmation email -----------------------------------------------------------------
def test_a_signature_request_emails_a_link_that_confirms_it_made_from_its_nonce_at_send_time(app, tmp_path):
    event = requested("lea@example.org")
    app.queue_petition_confirmation_emails([event])
    [(email_id, kind, recipient, status)] = email_rows(app)
    assert (email_id, kind, recipient, status) == (
        email_id_for(event.event_id, "petition-confirmation"), "petition-confirmation", "lea@example.org", "pending")
    token = LINKS.token("petition-signature", "s-nonce")
    with app.read() as conn:  # nothing stored can confirm the signature
        stored = [str(r.event) for r in app.store.read_all(conn)] + [str(dump_tables(conn, read_models.sorted_tables))]
    assert not any(token in text for text in stored)
    message = delivered(app, tmp_path)["lea@example.org"]
    assert message["Subject"] == "Confirmez votre signature : « Sauvons la ligne 14 »"
    text = message.get_body(("plain",)).get_content()
    assert f"http://testserver/petitions/confirm?token={token}" in text
    assert LINKS.nonce_of("petition-signature", token) == "s-nonce" and LINKS.nonce_of("verify-email", token) is None
    assert "Bonjour Léa," in text and "9 décembre 2026 à 14 h 05" in text  # Paris time


def test_a_confirmation_email_is_keyed_to_itself_and_keeps_no_address_once_delivered(app, tmp_path):
    app.queue_petition_confirmation_emails([requested("noe@example.org", consent=False)])
    [(email_id, *_)] = email_rows(app)
    assert keys(app) == {email_id}  # no member: the email's own key
    delivered(app, tmp_path)
    assert email_rows(app) == [(email_id, "petition-confirmation", "", "sent")]
    assert keys(app) == set()
    assert followers(app) == []  # no consent: the mailer keeps nothing of the signer
    assert_rebuild_gives_the_same_rows(app)


def test_a_redelivered_request_emails_once_and_a_batch_does_what_one_by_one_does(app):
    events = [requested(f"s{n}@example.org", nonce=f"n{n}") for n in range(3)]
    events.append(requested("s1@example.org", nonce="n1", event_id=events[1].event_id))  # a redelivery, in the batch
    app.queue_petition_confirmation_emails(events)
    app.queue_petition_confirmation_emails(events[:1])  # and another, later
    assert sorted(row[1:] for row in email_rows(app)) == [
        ("petition-confirmation", f"s{n}@example.org", "pending") for n in (0, 1, 2)]
    assert sorted(f[0] for f in followers(app)) == ["s0@example.org", "s1@example.org", "s2@example.org"]


def test_confirmation_emails_count_against_the_addresss_cap_with_the_account_emails(app, tmp_path):
    from tests.unit.mailer.privacy_cases import verification_for

    verification_for(app, str(uuid.uuid4()), "lea@example.org", "Léa")
    petitions = [str(uuid.uuid4()) for _ in range(5)]
    for petition in petitions[:2]:
        app.queue_petition_confirmation_emails([requested("lea@example.org", petition=petition)])
    delivered(app, tmp_path)  # sent: their addresses are gone, they still count
    for petition in petitions[2:]:
        app.queue_petition_confirmation_emails([requested("LEA@example.org", petition=petition)])
    app.queue_petition_confirmation_emails([requested("noe@example.org")])
    statuses = sorted((kind, status) for _, kind, _, status in email_rows(app))
    assert statuses == [("petition-confirmation", "pending")] * 3 + [("petition-confirmation", "sent")] * 2 + [
        ("petition-confirmation", "suppressed"), ("verification", "sent")]
    suppressed = [row for row in email_rows(app) if row[3] == "suppressed"]
    assert [row[2] for row in suppressed] == [""]  # a suppressed one keeps no address, nor its key
    assert suppressed[0][0] not in keys(app)
    assert_rebuild_gives_the_same_rows(app)


# -- the followers ----------------------------------------------------------------------------
def test_a_consenting_signer_follows_the_petition_once_their_signature_is_confirmed(app):
    app.queue_petition_confirmation_emails([requested("lea@example.org"), requested("noe@example.org", consent=False)])
    assert followers(app) == [("lea@example.org", "Léa", False, False)]
    assert signature_id("lea@example.org") in keys(app)  # the address sealed with the signature's key
    app.record_signature_confirmations([confirmed("lea@example.org"), confirmed("noe@example.org", consent=False)])
    assert followers(app) == [("lea@example.org", "Léa", True, True)]
    assert signature_id("noe@example.org") not in keys(app)  # never a follower: nothing made for them
    assert_rebuild_gives_the_same_rows(app)


def test_a_signature_confirmed_without_consent_or_invalidated_drops_the_follower_and_its_key(app):
    for address in ("lea@example.org", "noe@example.org", "zoe@example.org"):
        app.queue_petition_confirmation_emails([requested(address)])
    app.record_signature_confirmations([confirmed("lea@example.org", consent=False), confirmed("zoe@example.org")])
    app.record_signature_invalidations([invalidated("noe@example.org"), invalidated("zoe@example.org")])
    assert followers(app) == []
    assert not {signature_id(a) for a in ("lea@example.org", "noe@example.org", "zoe@example.org")} & keys(app)
    with app.read() as conn:  # their addresses are gone from the mailer's store too
        addressed = [r.event for r in app.store.read_all(conn) if isinstance(r.event, FollowerAddressed)]
    assert [(e.email, e.first_name) for e in addressed] == [("", "")] * 3
    app.queue_petition_confirmation_emails([requested("noe@example.org", nonce="again")])  # dropped is final
    assert followers(app) == []
    assert_rebuild_gives_the_same_rows(app)


def test_a_forgotten_signer_is_no_longer_a_follower_and_their_key_goes(app):
    sign_up_follower(app, "lea@example.org")
    forgotten = petitions_event("petitions.SignerForgotten", {
        "signature_id": signature_id("lea@example.org"), "petition_id": PETITION}, SignerForgotten())
    app.record_signers_forgotten([forgotten, forgotten])  # redelivered too
    assert followers(app) == []
    sign_up_follower(app, "max@example.org")
    lapsed = petitions_event("petitions.SignatureLapsed", {
        "signature_id": signature_id("max@example.org"), "petition_id": PETITION}, SignerForgotten())
    app.record_signers_forgotten([lapsed], reason="lapsed")
    assert followers(app) == []
    assert signature_id("lea@example.org") not in keys(app)
    assert_rebuild_gives_the_same_rows(app)


def test_petitions_events_in_any_order_make_the_same_followers(app):
    app.record_signature_confirmations([confirmed("lea@example.org")])  # before its request
    app.record_signature_invalidations([invalidated("noe@example.org")])  # before its request
    assert followers(app) == [("", "", True, False)]
    app.queue_petition_confirmation_emails([requested("lea@example.org"), requested("noe@example.org")])
    assert followers(app) == [("lea@example.org", "Léa", True, True)]
    event = confirmed("lea@example.org", consent=False)
    app.record_signature_confirmations([event, event])  # confirmed already: changes nothing, redelivered too
    assert followers(app) == [("lea@example.org", "Léa", True, True)]
    assert_rebuild_gives_the_same_rows(app)


# -- the milestones -----------------------------------------------------------------------------
def test_a_milestone_emails_every_confirmed_consenting_follower_of_the_petition_and_nobody_else(app, tmp_path):
    sign_up_follower(app, "lea@example.org", "<b>Léa</b>")
    sign_up_follower(app, "zoe@example.org", "Zoé")
    app.queue_petition_confirmation_emails([requested("noe@example.org", consent=False)])  # no consent
    app.record_signature_confirmations([confirmed("noe@example.org", consent=False)])
    app.queue_petition_confirmation_emails([requested("eve@example.org")])  # not confirmed
    sign_up_follower(app, "max@example.org")
    app.record_signature_invalidations([invalidated("max@example.org")])  # invalidated
    sign_up_follower(app, "ana@example.org", petition=str(uuid.uuid4()))  # another petition's
    delivered(app, tmp_path)
    for old in tmp_path.glob("*.eml"):
        old.unlink()

    assert app.queue_milestone_emails(milestone(50)) == 2
    messages = delivered(app, tmp_path)
    assert sorted(messages) == ["lea@example.org", "zoe@example.org"]
    message = messages["zoe@example.org"]
    assert message["Subject"] == "La pétition « Sauvons la ligne 14 » a atteint 50\u00a0% de son objectif"
    text = message.get_body(("plain",)).get_content()
    assert "Bonjour Zoé," in text and "12\u202f345 signatures pour un objectif de 24\u202f690" in text
    assert f"http://testserver/petitions/{PETITION}" in text
    html = messages["lea@example.org"].get_body(("html",)).get_content()
    assert "<b>Léa</b>" not in html and "&lt;b&gt;Léa&lt;/b&gt;" in html
    milestone_rows = email_rows(app, "petition-milestone")
    assert [(recipient, status) for _, _, recipient, status in milestone_rows] == [("", "sent")] * 2  # keyed to themselves
    assert not {email_id for email_id, *_ in milestone_rows} & keys(app)
    assert_rebuild_gives_the_same_rows(app)


def test_a_milestone_redelivered_even_after_a_crash_halfway_emails_each_follower_once(app, monkeypatch):
    addresses = [f"f{n:02d}@example.org" for n in range(7)]
    for address in addresses:
        sign_up_follower(app, address)
    event = milestone(100)
    real, calls = application.followers_after, []

    def crashing_on_the_third_page(conn, petition_id, after="", limit=500):
        calls.append(after)
        if len(calls) == 3:
            raise RuntimeError("the process died")
        return real(conn, petition_id, after, limit)

    monkeypatch.setattr(application, "followers_after", crashing_on_the_third_page)
    with pytest.raises(RuntimeError):
        app.queue_milestone_emails(event, page_size=2)
    assert len(email_rows(app, "petition-milestone")) == 4  # two pages of two, each its own transaction
    monkeypatch.setattr(application, "followers_after", real)
    assert app.queue_milestone_emails(event, page_size=2) == 3  # the redelivery queues the rest only
    rows = email_rows(app, "petition-milestone")
    assert sorted(recipient for _, _, recipient, _ in rows) == addresses
    assert {email_id for email_id, *_ in rows} == {
        email_id_for(f"{event.event_id}:{signature_id(a)}", "petition-milestone") for a in addresses}
    assert app.queue_milestone_emails(event, page_size=2) == 0  # processed: nothing, not even a page read
    assert len(email_rows(app, "petition-milestone")) == 7
    assert app.queue_milestone_emails(milestone(100)) == 7  # another event: another round


def test_a_milestone_of_a_petition_nobody_follows_emails_nobody(app):
    assert app.queue_milestone_emails(milestone(50)) == 0
    assert email_rows(app) == []

