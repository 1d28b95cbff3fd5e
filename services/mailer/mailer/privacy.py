"""What the mailer holds about a member: their export, and their erasure.

Mixed into `MailerApp`. On `members.MemberErased` (idempotent: a redelivery
finds the event processed and does nothing), in one transaction:
- the member's key is destroyed: the recipient address and the template
  inputs (first name, link nonce) of their `EmailQueued` / `EmailSuppressed`
  events load as placeholders from now on (umpnet_kernel.shredding);
- `mailer.RecipientForgotten` is recorded, and the emails read model drops
  their rows (`FORGETTERS`, run again at the end of a rebuild);
- the rate-limit counters of their addresses go (they last an hour anyway);
then the database files are scrubbed, and the `.eml` files of the development
sink holding their emails are deleted. A pending email of theirs is never sent.

Invitation emails go to someone who is nobody here yet: they have no member id,
so each is sealed with a key of its own, its email id (`events.EMAIL_SUBJECT`).
The mailer needs the invitee's address only until the email is out:
- once it is delivered or given up, `DoneEmailKeys` destroys its key in the
  outcome's transaction, and the read model blanks its address (its inviter's
  name went with its inputs);
- when a member is erased, the invitation emails still pending to one of their
  addresses (those of their account emails' rows) lose their key, their
  address and inputs, and become "forgotten" (never sent); the sink's `.eml`
  files addressed to them are deleted (one queued in clear, before sealing
  existed, is overwritten in place: `redact_clear_events` with its email id).
An email whose key is gone loads with an empty address: the projection makes
it "forgotten" in a rebuild as well, so a rebuild gives the same rows. The
inviter's erasure needs nothing here: the mailer never learns who invited, and
keeps their name only while the email is pending (seconds, unless the mail
server is down).
"""
from __future__ import annotations

import logging
import os
from typing import Callable

from email import message_from_binary_file
from email.policy import default as default_policy
from email.utils import getaddresses

from sqlalchemy import Connection, bindparam, delete, select

from umpnet_kernel.application import UnitOfWork
from umpnet_kernel.email_address import email_key
from umpnet_kernel.links import keyed_hash
from umpnet_kernel.messages import IncomingEvent
from umpnet_kernel.projections import Projection, handles
from umpnet_kernel.shredding import scrub, subject_keys
from umpnet_kernel.throttle import throttle_counters

from .events import EmailDeliveryFailed, EmailSent, EmailSuppressed, RecipientForgotten
from .projections import FORGETTERS, emails, forgets, forgotten_stream  # noqa: F401 (FORGETTERS: used here and by all_projections)

log = logging.getLogger(__name__)



@forgets
def forget_emails(conn: Connection, member_id: str) -> None:
    conn.execute(delete(emails).where(emails.c.member_id == member_id))


class DoneEmailKeys(Projection):
    """An email sealed with its own key (no member: an invitation, a petition
    signer's email) loses it once delivered or given up, in the outcome's
    transaction, or at once when it is suppressed (its address was needed only
    to count it). A member's email has no key of its own: nothing happens.
    Nothing in a rebuild (the keys are not a read model, and they are gone already)."""

    name = "done_email_keys"
    tables = ()
    _forget = delete(subject_keys).where(subject_keys.c.subject_id == bindparam("email_id"))

    @handles(EmailSent, EmailDeliveryFailed, EmailSuppressed)
    def done(self, conn, e, recorded):
        if not isinstance(e, EmailDeliveryFailed) or e.retry_at is None:
            conn.execute(self._forget, {"email_id": e.email_id})

    def replay(self, conn, recorded) -> None:
        return None


# Emails keyed to themselves that an erasure must find by address: invitations, and the
# debate reply emails (they hold the replier's words: replies.py).
_OWN_KEY_EMAILS = select(emails.c.email_id, emails.c.recipient).where(
    emails.c.kind.in_(("invitation", "debate-reply", "debate-digest")), emails.c.member_id.is_(None),
    emails.c.recipient != "")


def _forget_invitation_emails(uow: UnitOfWork, addresses: set[str]) -> tuple[list[str], int]:
    """The invitation emails still holding one of `addresses`: key, address and
    inputs gone, never sent; their ids, and how many clear events were overwritten."""
    ids = [r.email_id for r in uow.conn.execute(_OWN_KEY_EMAILS) if r.recipient.casefold() in addresses]
    redacted = 0
    for email_id in ids:
        uow.store.shredder.forget(uow.conn, email_id)
        redacted += uow.store.redact_clear_events(uow.conn, email_id)  # one queued before sealing existed
    if ids:
        uow.conn.execute(emails.update().where(emails.c.email_id.in_(ids)).values(
            recipient="", inputs=None, status="forgotten", next_attempt_at=None))
    return ids, redacted


def recipient_key(secret_key: str, address: str) -> str:
    """An address's rate-limit counter (umpnet_kernel.throttle): a keyed hash, so
    the counters say nothing of who was written to; of its `email_key`, so one
    mailbox written in two cases is counted once."""
    return keyed_hash(secret_key, "mailer.recipient", email_key(address))


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
        # the directory entry (directory.py), the reply notifications' choice and waiting replies (replies.py)
        # the blogs they own (blogs.py) and the campaigns they wrote (campaigns.py)
        return {"emails": [dict(row) for row in rows], "directory": self.directory_entry(member_id),
                **self.replies_export(member_id), "blogs": self.blogs_of(member_id),
                **self.campaigns_export(member_id)}

    def forget_member(self, incoming: IncomingEvent) -> bool:
        """Erase what the mailer holds about `incoming`'s member; False for a redelivery."""
        member_id = incoming.payload["member_id"]

        def command(uow: UnitOfWork):
            if not uow.first_delivery("mailer.erasure", incoming.event_id):
                return None
            own = uow.conn.execute(select(emails.c.email_id, emails.c.recipient)
                                   .where(emails.c.member_id == member_id)).all()
            addresses = {r.recipient.casefold() for r in own if r.recipient}
            entry = self.directory_entry_in(uow.conn, member_id)  # directory.py: their address there too
            if entry is not None and entry["email"]:
                addresses.add(entry["email"].casefold())
            invitation_emails, redacted = _forget_invitation_emails(uow, addresses)
            if addresses:  # their rate-limit counters (an hour's at most) go too
                keys = [recipient_key(self._secret_key, address) for address in addresses]
                uow.conn.execute(delete(throttle_counters).where(throttle_counters.c.key.in_(keys)))
            email_ids = [r.email_id for r in own] + invitation_emails
            self.forget_reply_keys(uow, member_id)  # replies.py: the replies waiting to or from them
            self.remove_owned_blogs(uow, member_id)  # blogs.py: no longer listed, the address free again
            uow.store.shredder.forget(uow.conn, member_id)
            redacted += uow.store.redact_clear_events(uow.conn, member_id)  # from before sealing
            stream = forgotten_stream(member_id)
            uow.append(stream, uow.store.stream_version(uow.conn, stream), [RecipientForgotten(member_id=member_id)])
            return email_ids, addresses, redacted

        done = self.execute(incoming.context(), command)
        if done is None:
            return False
        email_ids, addresses, redacted = done
        scrub(self.db, keep=() if redacted else ("events",))
        self._delete_sink_files(email_ids, addresses)
        return True

    def _delete_sink_files(self, email_ids: list[str], addresses: set[str] = frozenset()) -> None:
        """The sink's copies of these emails, and of any other addressed to
        `addresses` (a delivered invitation's row no longer says to whom)."""
        if not self.mail_dir:
            return
        for email_id in [*email_ids, *self._sink_files_to(addresses)]:
            try:
                os.remove(os.path.join(self.mail_dir, f"{email_id}.eml"))
            except FileNotFoundError:
                pass
            except OSError as exc:
                log.warning("the sent copy of email %s could not be deleted: %s", email_id, type(exc).__name__)

    def _sink_files_to(self, addresses: set[str]) -> list[str]:
        """The ids of the sink's `.eml` files whose `To` is one of `addresses`."""
        if not addresses:
            return []
        found = []
        try:
            names = [n for n in os.listdir(self.mail_dir) if n.endswith(".eml")]
        except FileNotFoundError:
            return []
        for name in names:
            try:
                with open(os.path.join(self.mail_dir, name), "rb") as f:
                    to = message_from_binary_file(f, policy=default_policy).get_all("To", [])
            except OSError:
                continue
            if any(address.casefold() in addresses for _, address in getaddresses([str(v) for v in to])):
                found.append(name[: -len(".eml")])
        return found
