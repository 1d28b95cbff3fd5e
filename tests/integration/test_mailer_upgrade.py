"""An email queued by the version that stored rendered bodies (mailer.EmailQueued
v1, migration 0001) is still sent after the upgrade, and a rebuild of the read
model gives the rows the migration made."""
from datetime import datetime, timezone

import pytest
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, Text, select, text

from mailer.application import MailerApp
from mailer.projections import emails
from mailer.transports import FileSink
from umpnet_kernel import jsontext
from umpnet_kernel.database import Database
from umpnet_kernel.manifest import service
from umpnet_kernel.migrations import upgrade
from umpnet_kernel.testing import dump_tables, temporary_postgres_url

from ..conftest import read_mails

pytestmark = pytest.mark.integration


def migrate(url, revision):
    upgrade(service("mailer"), url, revision)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/mailer.db"
    else:
        with temporary_postgres_url() as pg_url:
            yield pg_url


# The read model as migration 0001 made it.
emails_v1 = Table(
    "emails", MetaData(),
    Column("email_id", String(36), primary_key=True), Column("kind", String(50)), Column("member_id", String(36)),
    Column("recipient", String(320)), Column("subject", String(300)), Column("text_body", Text),
    Column("html_body", Text), Column("status", String(20)), Column("attempts", Integer),
    Column("next_attempt_at", DateTime(timezone=True)), Column("queued_at", DateTime(timezone=True)),
    Column("sent_at", DateTime(timezone=True)),
)


def queued_by_v1(db, email_id, status, when):
    """What 0001 and `EmailQueued` v1 left: the event and its read-model row."""
    data = {
        "email_id": email_id, "kind": "verification", "to": f"{email_id}@example.org",
        "subject": "Confirmez votre adresse e-mail", "text_body": "Bonjour, ouvrez http://x/verify?token=old\n",
        "html_body": "<p>Bonjour</p>", "member_id": None,
    }
    meta = {"event_id": f"{email_id}-queued", "occurred_at": when.isoformat(), "actor_id": None,
            "correlation_id": None, "causation_id": None}
    with db.write() as conn:
        conn.execute(
            text("INSERT INTO events (stream_id, version, event_id, event_type, schema_version, data, meta, recorded_at)"
                 " VALUES (:stream, 1, :event_id, 'mailer.EmailQueued', 1, :data, :meta, :at)"),
            {"stream": f"email-{email_id}", "event_id": meta["event_id"], "data": jsontext.encode(data),
             "meta": jsontext.encode(meta), "at": when},
        )
        if status == "sent":
            sent_meta = {**meta, "event_id": f"{email_id}-sent"}
            conn.execute(
                text("INSERT INTO events (stream_id, version, event_id, event_type, schema_version, data, meta, recorded_at)"
                     " VALUES (:stream, 2, :event_id, 'mailer.EmailSent', 1, :data, :meta, :at)"),
                {"stream": f"email-{email_id}", "event_id": sent_meta["event_id"],
                 "data": jsontext.encode({"email_id": email_id}), "meta": jsontext.encode(sent_meta), "at": when},
            )
        conn.execute(emails_v1.insert(), {
            "email_id": email_id, "kind": "verification", "member_id": None, "recipient": data["to"],
            "subject": data["subject"], "text_body": data["text_body"], "html_body": data["html_body"],
            "status": status, "attempts": 0, "next_attempt_at": when if status == "pending" else None,
            "queued_at": when, "sent_at": when if status == "sent" else None,
        })


def test_an_email_queued_before_the_upgrade_is_sent_as_it_was_rendered(url, tmp_path):
    migrate(url, "0001")
    db = Database(url)
    when = datetime(2026, 11, 30, 12, 0, tzinfo=timezone.utc)
    queued_by_v1(db, "old-pending", "pending", when)
    queued_by_v1(db, "old-sent", "sent", when)
    db.dispose()
    migrate(url, "head")

    db = Database(url)
    try:
        app = MailerApp(db, public_url="http://testserver", sender="UMPnet <noreply@example.org>", secret_key="k")
        with app.read() as conn:
            migrated = dump_tables(conn, [emails])
            by_id = {r["email_id"]: r for r in conn.execute(select(emails)).mappings()}
        assert by_id["old-sent"]["inputs"] is None  # a sent email keeps nothing of its body
        assert by_id["old-pending"]["template"] == "prerendered"
        app.rebuild_read_models()
        with app.read() as conn:
                assert dump_tables(conn, [emails]) == migrated  # the migration made what the events say

        assert app.deliver_due(FileSink(str(tmp_path / "mail"))) == 1
        (message,) = read_mails(str(tmp_path / "mail"))
        assert message["To"] == "old-pending@example.org"
        assert "token=old" in message.get_body(("plain",)).get_content()
    finally:
        db.dispose()
