"""The mailer's read models: the delivery queue and its history."""
from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, Integer, MetaData, String, Table, Text

from umpnet_kernel.projections import KeyedProjection, handles

from .events import EmailDeliveryFailed, EmailQueued, EmailSent

read_models = MetaData()

emails = Table(
    "emails",
    read_models,
    Column("email_id", String(36), primary_key=True),
    Column("kind", String(50), nullable=False),
    Column("member_id", String(36)),
    Column("recipient", String(320), nullable=False),
    Column("subject", String(300), nullable=False),
    Column("text_body", Text, nullable=False),
    Column("html_body", Text, nullable=False),
    Column("status", String(20), nullable=False),  # pending | sent | failed
    Column("attempts", Integer, nullable=False),
    Column("next_attempt_at", DateTime(timezone=True)),
    Column("queued_at", DateTime(timezone=True), nullable=False),
    Column("sent_at", DateTime(timezone=True)),
)
Index("ix_emails_due", emails.c.status, emails.c.next_attempt_at)


class EmailsProjection(KeyedProjection):
    name = "emails"
    table = emails
    key_column = "email_id"

    @handles(EmailQueued)
    def queued(self, row, e: EmailQueued, recorded):
        return {
            "email_id": e.email_id,
            "kind": e.kind,
            "member_id": e.member_id,
            "recipient": e.to,
            "subject": e.subject,
            "text_body": e.text_body,
            "html_body": e.html_body,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": recorded.meta.occurred_at,
            "queued_at": recorded.meta.occurred_at,
            "sent_at": None,
        }

    @handles(EmailSent)
    def sent(self, row, e, recorded):
        return {**row, "status": "sent", "next_attempt_at": None, "sent_at": recorded.meta.occurred_at}

    @handles(EmailDeliveryFailed)
    def failed(self, row, e: EmailDeliveryFailed, recorded):
        status = "pending" if e.retry_at is not None else "failed"
        return {**row, "status": status, "attempts": e.attempt, "next_attempt_at": e.retry_at}


def all_projections():
    return [EmailsProjection()]
