"""The mailer's delivery queue: sent once, retried after a failure, kept on disk."""
import email
import email.policy
from datetime import timedelta

import eventlet
import pytest

from mailer.application import MailerApp, RateLimit, email_id_for
from mailer.projections import emails
from mailer.transports import FileSink, TransportError
from umpnet_kernel.database import Database
from umpnet_kernel.links import LinkTokens
from umpnet_kernel.manifest import service
from umpnet_kernel.messages import IncomingEvent, PermanentFailure
from umpnet_kernel.migrations import upgrade_to_head
from umpnet_kernel.testing import temporary_postgres_url
from sqlalchemy import select


class _AsIs:
    """A subscriber schema that takes the data as it comes."""

    def load(self, data):
        return data


class FlakyTransport:
    """Refuses the first `failures` messages, like an SMTP server having a bad minute."""

    def __init__(self, sink, failures):
        self.sink, self.failures, self.attempts = sink, failures, 0

    def send(self, email_id, message):
        self.attempts += 1
        if self.attempts <= self.failures:
            raise TransportError("SMTP delivery failed: SMTPServerDisconnected")
        self.sink.send(email_id, message)


def members_event(event_type, data, event_id="e1", schema_version=1):
    return IncomingEvent.from_envelope(schema=_AsIs(), body={
        "event_id": event_id, "event_type": event_type, "schema_version": schema_version,
        "stream_id": "member-m1", "stream_version": 3, "position": 3, "occurred_at": "2026-11-23T10:00:00+00:00",
        "data": data,
    })


def verification_requested(event_id="e1", email="camille@example.org", nonce="nonce-1"):
    data = {"member_id": "m1", "email": email, "first_name": "Camille", "link_nonce": nonce}
    return members_event("members.EmailVerificationRequested", data, event_id, schema_version=2)


@pytest.fixture
def mailer(migrated_url):
    db = Database(migrated_url("mailer"))
    yield MailerApp(db, public_url="https://adherer.example", sender="UMPnet <noreply@example.org>", secret_key="test-secret")
    db.dispose()


def rows(app):
    with app.read() as conn:
        return list(conn.execute(select(emails.c.email_id, emails.c.status, emails.c.attempts)).mappings())


def test_one_event_queues_one_email_even_when_delivered_twice(mailer, tmp_path):
    incoming = verification_requested()
    mailer.queue_verification_email(incoming)
    mailer.queue_verification_email(incoming)
    assert [r["email_id"] for r in rows(mailer)] == [email_id_for("e1", "verification")]
    assert mailer.deliver_due(FileSink(str(tmp_path))) == 1
    assert mailer.deliver_due(FileSink(str(tmp_path))) == 0
    (path,) = tmp_path.glob("*.eml")
    message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
    assert message["Message-ID"] == f"<{email_id_for('e1', 'verification')}@umpnet.invalid>"
    text = message.get_body(("plain",)).get_content()
    token = LinkTokens("test-secret").token("verify-email", "nonce-1")
    assert f"https://adherer.example/verify?token={token}" in text and "Bonjour Camille" in text


def test_a_failed_delivery_is_recorded_and_retried_later(mailer, tmp_path):
    mailer.queue_verification_email(verification_requested())
    transport = FlakyTransport(FileSink(str(tmp_path)), failures=1)
    assert mailer.deliver_due(transport) == 0
    (row,) = rows(mailer)
    assert (row["status"], row["attempts"]) == ("pending", 1)
    assert mailer.deliver_due(transport) == 0  # not due again before its retry time
    assert list(tmp_path.glob("*.eml")) == []


class BrokenOnce:
    """Sends every message but one, which blows up in an unexpected way."""

    def __init__(self, sink, broken_email_id):
        self.sink, self.broken_email_id = sink, broken_email_id

    def send(self, email_id, message):
        if email_id == self.broken_email_id:
            raise RuntimeError("a bug in a transport")
        self.sink.send(email_id, message)


def test_one_unsendable_email_does_not_stop_the_others_being_recorded(mailer, tmp_path):
    for n in range(3):
        mailer.queue_verification_email(verification_requested(f"e{n}"))
    broken = email_id_for("e1", "verification")
    assert mailer.deliver_due(BrokenOnce(FileSink(str(tmp_path)), broken)) == 2
    statuses = {r["email_id"]: (r["status"], r["attempts"]) for r in rows(mailer)}
    assert statuses.pop(broken) == ("pending", 1)  # to be retried later
    assert set(statuses.values()) == {("sent", 0)}  # attempts counts failures
    assert mailer.deliver_due(FileSink(str(tmp_path))) == 0  # the sent ones are not sent again
    assert len(list(tmp_path.glob("*.eml"))) == 2


def statuses_of(app):
    with app.read() as conn:
        return sorted(conn.execute(select(emails.c.status)).scalars())


def test_account_emails_beyond_the_limit_are_suppressed_until_the_window_has_passed(migrated_url):
    db = Database(migrated_url("mailer"))
    app = MailerApp(db, "https://adherer.example", "x@example.org", "k", RateLimit(count=2, window=timedelta(seconds=0.5)))
    try:
        for n in range(3):
            app.queue_verification_email(verification_requested(f"e{n}", "same@example.org"))
        app.queue_verification_email(verification_requested("other", "other@example.org"))
        assert statuses_of(app) == ["pending"] * 3 + ["suppressed"]  # two for same@, one for other@
        eventlet.sleep(0.6)
        app.queue_verification_email(verification_requested("later", "same@example.org"))
        assert statuses_of(app) == ["pending"] * 4 + ["suppressed"]
    finally:
        db.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_concurrent_requests_for_one_address_get_no_more_than_the_limit(migrated_url, backend):
    db = Database(migrated_url("mailer", backend))
    app = MailerApp(db, "https://adherer.example", "x@example.org", "k", RateLimit(count=3))
    try:
        pool = eventlet.GreenPool()
        for n in range(12):
            pool.spawn(app.queue_verification_email, verification_requested(f"e{n}", "same@example.org"))
        pool.waitall()
        assert statuses_of(app) == ["pending"] * 3 + ["suppressed"] * 9
    finally:
        db.dispose()


def _queued_rows(app):
    with app.read() as conn:
        found = conn.execute(
            select(emails.c.email_id, emails.c.kind, emails.c.recipient, emails.c.template, emails.c.inputs, emails.c.status)
            .order_by(emails.c.email_id)
        )
        return [tuple(row) for row in found]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_batch_of_events_queues_what_the_same_events_one_by_one_queue(tmp_path, backend):
    """The subscriber's batch path (one transaction) and the plain path have the same effects:
    redeliveries inside a batch, the per-address limit counted across the batch, each kind."""
    events = [verification_requested(f"e{n}", "same@example.org", nonce=f"n{n}") for n in range(7)]  # 5 + 2 over the limit
    events += [verification_requested("e2", "same@example.org", nonce="n2")]  # a redelivery, inside the batch
    events += [members_event("members.PasswordResetRequested",
                             {"member_id": "m2", "email": "b@example.org", "first_name": "B", "link_nonce": "r1"}, "r1")]
    events += [members_event("members.DuplicateSignUpAttempted",
                             {"member_id": "m3", "email": "c@example.org", "first_name": "C"}, "d1")]
    kinds = {"members.EmailVerificationRequested": "verification", "members.PasswordResetRequested": "password_reset",
             "members.DuplicateSignUpAttempted": "account_exists"}
    outcomes = []
    for path in ("plain", "batch"):
        if backend == "sqlite":
            url = f"sqlite:///{tmp_path}/{path}.db"
        else:
            context = temporary_postgres_url()
            url = context.__enter__()
        upgrade_to_head(service("mailer"), url)
        db = Database(url)
        try:
            app = MailerApp(db, public_url="https://adherer.example", sender="UMPnet <noreply@example.org>",
                            secret_key="test-secret")
            for event_type, kind in kinds.items():
                of_type = [e for e in events if e.event_type == event_type]
                if path == "plain":
                    for incoming in of_type:
                        getattr(app, f"queue_{kind}_email")(incoming)
                else:
                    getattr(app, f"queue_{kind}_emails")(of_type)
            outcomes.append(_queued_rows(app))
        finally:
            db.dispose()
            if backend != "sqlite":
                context.__exit__(None, None, None)
    plain, batch = outcomes
    assert batch == plain
    assert len(plain) == 9 and sum(row[5] == "suppressed" for row in plain) == 2


def test_a_batch_that_fails_queues_nothing(mailer):
    good = verification_requested("e1")
    broken = members_event("members.EmailVerificationRequested",
                           {"member_id": "m1", "email": "x@example.org", "first_name": "X"}, "e2", schema_version=2)
    with pytest.raises(PermanentFailure):
        mailer.queue_verification_emails([good, broken])
    assert rows(mailer) == []  # all or nothing: the subscriber then handles them one by one
    mailer.queue_verification_emails([good])
    assert [r["email_id"] for r in rows(mailer)] == [email_id_for("e1", "verification")]


class Smtp:
    """Stands for an SMTP transport: a resend would be a second copy for a person."""

    def __init__(self, sink):
        self.sink = sink

    def send(self, email_id, message):
        self.sink.send(email_id, message)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_file_sink_deliveries_are_recorded_in_one_transaction_smtp_ones_each_in_its_own(migrated_url, tmp_path, backend):
    db = Database(migrated_url("mailer", backend))
    try:
        app = MailerApp(db, public_url="https://adherer.example", sender="UMPnet <noreply@example.org>",
                        secret_key="test-secret")
        commits = []
        app.on_commit(lambda recorded: commits.append(len(recorded)))
        for n in range(6):
            app.queue_verification_email(verification_requested(f"e{n}", f"p{n}@example.org"))
        commits.clear()
        assert app.deliver_due(FileSink(str(tmp_path / "files")), limit=3) == 3
        assert commits == [3]  # the sink repeats harmlessly: one record for the batch
        assert app.deliver_due(Smtp(FileSink(str(tmp_path / "smtp"))), limit=3) == 3
        assert commits == [3, 1, 1, 1]  # a real send: each recorded as soon as it is accepted
        assert {r["status"] for r in rows(app)} == {"sent"}
    finally:
        db.dispose()


def test_a_batch_record_that_fails_is_made_one_by_one(mailer, tmp_path, monkeypatch):
    for n in range(3):
        mailer.queue_verification_email(verification_requested(f"e{n}", f"p{n}@example.org"))

    def refuse(commands):
        raise RuntimeError("one of them cannot be recorded")

    monkeypatch.setattr(mailer, "execute_many", refuse)
    assert mailer.deliver_due(FileSink(str(tmp_path))) == 3
    assert {r["status"] for r in rows(mailer)} == {"sent"}
