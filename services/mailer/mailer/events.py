"""The mailer's events. All private for now: they hold addresses and message text."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from umpnet_kernel.events import DomainEvent, describe


@dataclass(frozen=True)
class EmailQueued(DomainEvent, name="mailer.EmailQueued", public=False):
    email_id: str
    kind: str = field(metadata=describe("what the email is for, e.g. 'verification'"))
    to: str = field(metadata=describe("recipient address", personal=True))
    subject: str
    text_body: str = field(metadata=describe("plain-text body", personal=True))
    html_body: str = field(metadata=describe("HTML body", personal=True))
    member_id: str | None = None


@dataclass(frozen=True)
class EmailSent(DomainEvent, name="mailer.EmailSent", public=False):
    email_id: str


@dataclass(frozen=True)
class EmailDeliveryFailed(DomainEvent, name="mailer.EmailDeliveryFailed", public=False):
    """A sending attempt failed; `retry_at` is None when the mailer gave up."""

    email_id: str
    attempt: int
    reason: str
    retry_at: datetime | None
