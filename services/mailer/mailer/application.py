"""The mailer's use cases: queue an email for what happened, deliver what is due."""
from __future__ import annotations

import logging
import uuid
from datetime import datetime, timezone

from sqlalchemy import or_, select

from umpnet_kernel.application import Application, UnitOfWork
from umpnet_kernel.database import Database
from umpnet_kernel.events import Context
from umpnet_kernel.messages import IncomingEvent

from . import composer
from .domain.email import OutgoingEmail
from .events import EmailQueued
from .projections import all_projections, emails
from .transports import TransportError

log = logging.getLogger(__name__)

# Email ids derive from the event that caused them: the same event can never
# queue two emails, even if the processed-message record were lost.
EMAIL_ID_NAMESPACE = uuid.UUID("6f1c3f5e-5d0e-4a39-9f55-0d3c1b1ad6a1")


def email_id_for(event_id: str, kind: str) -> str:
    return str(uuid.uuid5(EMAIL_ID_NAMESPACE, f"{kind}:{event_id}"))


class MailerApp(Application):
    def __init__(self, db: Database, public_url: str, sender: str):
        super().__init__(db, all_projections())
        self.public_url = public_url
        self.sender = sender

    def queue_verification_email(self, incoming: IncomingEvent) -> None:
        data = incoming.payload

        def command(uow: UnitOfWork):
            if not uow.first_delivery("mailer.verification", incoming.event_id):
                return  # a redelivery: the email was queued the first time
            subject, text, html = composer.verification_email(data["first_name"], data["token"], self.public_url)
            email_id = email_id_for(incoming.event_id, "verification")
            uow.add(OutgoingEmail.queue(email_id, "verification", data["email"], subject, text, html, data["member_id"]))

        self.execute(incoming.context(), command)

    def deliver_due(self, transport, limit: int = 100) -> int:
        """Send what is due, recording each outcome; returns how many were sent."""
        now = datetime.now(timezone.utc)
        query = (
            select(emails)
            .where(emails.c.status == "pending", or_(emails.c.next_attempt_at.is_(None), emails.c.next_attempt_at <= now))
            .order_by(emails.c.next_attempt_at)
            .limit(limit)
        )
        with self.read() as conn:
            due = list(conn.execute(query).mappings())
        outcomes: list[tuple[str, str | None]] = []  # (email id, why it failed or None)
        for row in due:
            try:
                message = composer.mime_message(
                    row["email_id"], self.sender, row["recipient"], row["subject"], row["text_body"], row["html_body"]
                )
                transport.send(row["email_id"], message)
                outcomes.append((row["email_id"], None))
            except TransportError as exc:
                log.warning("delivery of email %s failed: %s", row["email_id"], exc)
                outcomes.append((row["email_id"], str(exc)))
            except Exception as exc:
                # One unsendable email must not stop the batch: the ones already
                # sent would never be recorded, and would go out again and again.
                log.warning("email %s could not be sent: %s", row["email_id"], type(exc).__name__)
                outcomes.append((row["email_id"], f"cannot be sent: {type(exc).__name__}"))

        def record(uow: UnitOfWork):
            # One transaction for the whole batch: a crash before it commits
            # means these are sent again (at least once, same Message-ID).
            emails = uow.get_many(OutgoingEmail, [email_id for email_id, _ in outcomes])
            for email_id, failure in outcomes:
                email = emails[email_id]
                if failure is None:
                    email.mark_sent()
                else:
                    email.mark_failed(failure, now)

        if outcomes:
            self.execute(Context(), record)
        return sum(1 for _, failure in outcomes if failure is None)

    @staticmethod
    def queued_any(recorded) -> bool:
        return any(isinstance(r.event, EmailQueued) for r in recorded)
