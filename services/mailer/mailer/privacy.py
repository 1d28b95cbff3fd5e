"""What the mailer holds about a member: their export, and their erasure.

Mixed into `MailerApp`. On `members.MemberErased` (idempotent: a redelivery
finds the event processed and does nothing), in one transaction:
- the member's key is destroyed: the recipient address and the template
  inputs (first name, link nonce) of their `EmailQueued` / `EmailSuppressed`
  events load as placeholders from now on (umpnet_kernel.shredding);
- `mailer.RecipientForgotten` is recorded, and the emails read model drops
  their rows (`FORGETTERS`, run again at the end of a rebuild);
then the database files are scrubbed, and the `.eml` files of the development
sink holding their emails are deleted. A pending email of theirs is never sent.
"""
from __future__ import annotations

import logging
import os
from typing import Callable

from sqlalchemy import Connection, delete, select

from umpnet_kernel.application import UnitOfWork
from umpnet_kernel.messages import IncomingEvent
from umpnet_kernel.shredding import scrub

from .events import RecipientForgotten
from .projections import emails

log = logging.getLogger(__name__)

FORGETTERS: list[Callable[[Connection, str], None]] = []


def forgets(forgetter):
    """Register a read model's forget function `(conn, member_id)` (see members/forgetting.py)."""
    FORGETTERS.append(forgetter)
    return forgetter


@forgets
def forget_emails(conn: Connection, member_id: str) -> None:
    conn.execute(delete(emails).where(emails.c.member_id == member_id))


def forgotten_stream(member_id: str) -> str:
    return f"forgotten-{member_id}"


class MailerPrivacy:
    """`self` is the `MailerApp`; `mail_dir` is the `.eml` sink's folder, when there is one."""

    mail_dir: str | None = None

    def export_personal_data(self, member_id: str) -> dict:
        with self.read() as conn:
            rows = conn.execute(
                select(emails.c.email_id, emails.c.kind, emails.c.recipient, emails.c.status,
                       emails.c.attempts, emails.c.queued_at, emails.c.sent_at)
                .where(emails.c.member_id == member_id).order_by(emails.c.queued_at)
            ).mappings().all()
        return {"emails": [dict(row) for row in rows]}

    def forget_member(self, incoming: IncomingEvent) -> bool:
        """Erase what the mailer holds about `incoming`'s member; False for a redelivery."""
        member_id = incoming.payload["member_id"]

        def command(uow: UnitOfWork):
            if not uow.first_delivery("mailer.erasure", incoming.event_id):
                return None
            email_ids = uow.conn.execute(select(emails.c.email_id).where(emails.c.member_id == member_id)).scalars().all()
            uow.store.shredder.forget(uow.conn, member_id)
            redacted = uow.store.redact_clear_events(uow.conn, member_id)  # from before sealing
            stream = forgotten_stream(member_id)
            uow.append(stream, uow.store.stream_version(uow.conn, stream), [RecipientForgotten(member_id=member_id)])
            return list(email_ids), redacted

        done = self.execute(incoming.context(), command)
        if done is None:
            return False
        email_ids, redacted = done
        scrub(self.db, keep=() if redacted else ("events",))
        self._delete_sink_files(email_ids)
        return True

    def _delete_sink_files(self, email_ids: list[str]) -> None:
        if not self.mail_dir:
            return
        for email_id in email_ids:
            try:
                os.remove(os.path.join(self.mail_dir, f"{email_id}.eml"))
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.warning("the sent copy of email %s could not be deleted: %s", email_id, type(exc).__name__)
