"""An outgoing email: queued once, then sent, or retried with backoff, or given up;
or suppressed instead of queued (rate limit)."""
from __future__ import annotations

from datetime import datetime, timedelta

from umpnet_kernel.aggregate import Aggregate, applies

from ..events import EmailDeliveryFailed, EmailQueued, EmailSent, EmailSuppressed

# Waits between attempts; after the last one the email is given up.
RETRY_DELAYS = (timedelta(seconds=30), timedelta(minutes=5), timedelta(minutes=30), timedelta(hours=2))


class OutgoingEmail(Aggregate):
    stream_prefix = "email"

    def __init__(self, id: str):
        super().__init__(id)
        self.status = "new"
        self.attempts = 0

    @classmethod
    def queue(cls, email_id, kind, to, template, inputs, member_id=None) -> "OutgoingEmail":
        """An email to send, rendered from `template` and `inputs` when it is sent."""
        email = cls(email_id)
        email._record(
            EmailQueued(email_id=email_id, kind=kind, to=to, template=template, inputs=dict(inputs), member_id=member_id)
        )
        return email

    @classmethod
    def suppress(cls, email_id, kind, to, reason, member_id=None) -> "OutgoingEmail":
        """An email that is not to be sent at all (e.g. too many to one address)."""
        email = cls(email_id)
        email._record(EmailSuppressed(email_id=email_id, kind=kind, to=to, reason=reason, member_id=member_id))
        return email

    def mark_sent(self) -> None:
        if self.status == "pending":
            self._record(EmailSent(email_id=self.id))

    def mark_failed(self, reason: str, now: datetime) -> None:
        if self.status != "pending":
            return
        attempt = self.attempts + 1
        retry_at = now + RETRY_DELAYS[attempt - 1] if attempt <= len(RETRY_DELAYS) else None
        self._record(EmailDeliveryFailed(email_id=self.id, attempt=attempt, reason=reason, retry_at=retry_at))

    @applies(EmailQueued)
    def _queued(self, e):
        self.status = "pending"

    @applies(EmailSuppressed)
    def _suppressed(self, e):
        self.status = "suppressed"

    @applies(EmailSent)
    def _sent(self, e):
        self.status = "sent"

    @applies(EmailDeliveryFailed)
    def _failed(self, e: EmailDeliveryFailed):
        self.attempts = e.attempt
        if e.retry_at is None:
            self.status = "failed"
