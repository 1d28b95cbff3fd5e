"""The mailer's use cases: queue an email for what happened, deliver what is due."""
from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from functools import cache
from datetime import datetime, timedelta, timezone
from typing import Callable

from sqlalchemy import bindparam, case, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from umpnet_kernel import jsontext, throttle
from umpnet_kernel.application import Application, UnitOfWork
from umpnet_kernel.database import Database
from umpnet_kernel.events import Context
from umpnet_kernel.links import LinkTokens
from umpnet_kernel.messages import IncomingEvent, PermanentFailure
from umpnet_kernel.shredding import Shredder, scrub
from umpnet_kernel.store import processed_table

from . import composer
from .projections import FOLLOWERS_PAGE, all_projections, emails, followers_after  # first: the tables' order
from .directory import Directory  # noqa: I001
from .blogs import Blogs
from .campaigns import Campaigns
from .domain.email import OutgoingEmail
from .domain.follower import PetitionFollower
from .events import EmailQueued
from .meetings import MeetingEmails
from .privacy import MailerPrivacy, recipient_key
from .replies import ReplyNotifications
from .unsubscribe import Unsubscribing, unsubscribe_nonce
from .transports import TransportError

log = logging.getLogger(__name__)

# Email ids derive from the event that caused them: the same event can never
# queue two emails, even if the processed-message record were lost.
EMAIL_ID_NAMESPACE = uuid.UUID("6f1c3f5e-5d0e-4a39-9f55-0d3c1b1ad6a1")

# The emails anyone can make us send to an address by typing it into a form
# (sign-up, resend, password reset): the members service limits the requests,
# the mailer caps what one address receives whatever happens upstream.
# A petition's confirmation too: someone typing a stranger's address into many
# petitions must not flood them.
CAPPED_EMAILS = ("verification", "password-reset", "account-exists", "petition-confirmation")


_PROCESSED = select(processed_table.c.event_id).where(
    processed_table.c.consumer == bindparam("consumer"), processed_table.c.event_id == bindparam("event_id"))


@cache
def _counter_hit(dialect: str):
    """`umpnet_kernel.throttle.hit`'s upsert, built once with its values bound per
    call: `hit` builds its statement per call, ~0.38 ms of SQLAlchemy each time
    (against ~0.07 for a built one), and petition confirmations come at 1,000/s.
    (To go once `throttle.hit` binds its values.)"""
    c = throttle.throttle_counters.c
    expired = c.window_ends_at <= bindparam("now")
    upsert = (postgresql if dialect == "postgresql" else sqlite).insert(throttle.throttle_counters)
    upsert = upsert.values(key=bindparam("key"), count=1, window_ends_at=bindparam("ends"))
    return upsert.on_conflict_do_update(index_elements=[c.key], set_={
        "count": case((expired, 1), else_=c.count + 1),
        "window_ends_at": case((expired, bindparam("ends")), else_=c.window_ends_at),
    }).returning(c.count)


def email_id_for(event_id: str, kind: str) -> str:
    return str(uuid.uuid5(EMAIL_ID_NAMESPACE, f"{kind}:{event_id}"))


@dataclass(frozen=True)
class RateLimit:
    """At most `count` capped emails (`CAPPED_EMAILS`) to one address within `window`."""

    count: int = 5
    window: timedelta = timedelta(hours=1)


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class MailerApp(Directory, MeetingEmails, ReplyNotifications, Campaigns, Blogs, Unsubscribing, MailerPrivacy,
                Application):
    def __init__(
        self, db: Database, public_url: str, sender: str, secret_key: str, rate_limit: RateLimit = RateLimit()
    ):
        # Addresses and template inputs are sealed per member (umpnet_kernel.shredding, privacy.py).
        super().__init__(db, all_projections(), shredder=Shredder(secret_key))
        self.public_url = public_url
        self.sender = sender
        self.links = LinkTokens(secret_key)
        self.rate_limit = rate_limit
        self._secret_key = secret_key
        self._next_prune = 0.0
        # The time of the reminders and digests (meetings.py, replies.py): tests set their own.
        self.clock: Callable[[], datetime] = utcnow

    # -- queueing: what is stored is the template and its inputs, never a link token
    # Each event's command is built by one method (`_verification`, ...) and run
    # either alone (`queue_verification_email`) or, for a subscriber's batch,
    # with the others in one transaction (`queue_verification_emails`): the
    # same commands, so the same effects (tests/unit/mailer).
    def queue_verification_email(self, incoming: IncomingEvent) -> None:
        self.execute(*self._verification(incoming))

    def queue_verification_emails(self, incomings: list[IncomingEvent]) -> None:
        self.execute_many([self._verification(incoming) for incoming in incomings])

    def queue_password_reset_email(self, incoming: IncomingEvent) -> None:
        self.execute(*self._password_reset(incoming))

    def queue_password_reset_emails(self, incomings: list[IncomingEvent]) -> None:
        self.execute_many([self._password_reset(incoming) for incoming in incomings])

    def queue_account_exists_email(self, incoming: IncomingEvent) -> None:
        self.execute(*self._account_exists(incoming))

    def queue_account_exists_emails(self, incomings: list[IncomingEvent]) -> None:
        self.execute_many([self._account_exists(incoming) for incoming in incomings])

    def _verification(self, incoming: IncomingEvent):
        data = incoming.payload
        if data.get("link_nonce"):
            inputs = {"first_name": data["first_name"], "link_nonce": data["link_nonce"]}
        elif data.get("token"):
            # A v1 event (before members sent nonces): its token goes into the
            # link as it is. Stored here as it already is in the members store.
            inputs = {"first_name": data["first_name"], "token": data["token"]}
        else:
            raise PermanentFailure("verification request without link_nonce nor token")
        return self._queue(incoming, "verification", inputs, consumer="mailer.verification")

    def _password_reset(self, incoming: IncomingEvent):
        data = incoming.payload
        return self._queue(incoming, "password-reset", {"first_name": data["first_name"], "link_nonce": data["link_nonce"]})

    def _account_exists(self, incoming: IncomingEvent):
        return self._queue(incoming, "account-exists", {"first_name": incoming.payload["first_name"]})

    def queue_invitation_email(self, incoming: IncomingEvent) -> None:
        """A member's invitation; none when members says the address got enough of them lately.
        One at a time: invitations come far more rarely than account emails."""
        data = incoming.payload
        if data.get("emailed", True):
            self.execute(*self._queue(incoming, "invitation",
                                      {"inviter_name": data["inviter_name"], "link_nonce": data["link_nonce"]}))

    def _queue(self, incoming: IncomingEvent, kind: str, inputs: dict, consumer: str | None = None,
               also: Callable[[UnitOfWork], None] | None = None):
        """The (context, command) that queues `incoming`'s email, for `execute` or `execute_many`;
        `also(uow)` is done in the same command, once (not for a redelivery)."""
        data = incoming.payload
        to, member_id = data["email"], data.get("member_id")
        email_id = email_id_for(incoming.event_id, kind)

        def command(uow: UnitOfWork):
            if not uow.first_delivery(consumer or f"mailer.{kind}", incoming.event_id):
                return  # a redelivery: the email was queued (or suppressed) the first time
            if also is not None:
                also(uow)
            if kind in CAPPED_EMAILS and self._over_limit(uow, to):
                log.info("email %s suppressed: rate limit of its recipient reached", email_id)
                uow.add(OutgoingEmail.suppress(email_id, kind, to, "rate-limited", member_id))
            else:
                uow.add(OutgoingEmail.queue(email_id, kind, to, kind, inputs, member_id))

        return incoming.context(), command

    # -- petitions: the signer's confirmation email, the followers, the milestones
    # A signer has no account: their emails are keyed to themselves (events.EMAIL_SUBJECT),
    # their follower record to their signature (domain/follower.py).
    def queue_petition_confirmation_emails(self, incomings: list[IncomingEvent]) -> None:
        self.execute_many([self._petition_confirmation(incoming) for incoming in incomings])

    def _petition_confirmation(self, incoming: IncomingEvent):
        data = incoming.payload
        inputs = {"first_name": data["first_name"], "petition_title": data["petition_title"],
                  "link_nonce": data["link_nonce"], "expires_at": data["expires_at"].isoformat()}

        def follow(uow: UnitOfWork):  # the address is kept only for a signer who agreed to hear from the petition
            if data["contact_consent"]:
                self._follower(uow, data["signature_id"]).address(data["petition_id"], data["email"], data["first_name"])

        return self._queue(incoming, "petition-confirmation", inputs, also=follow)

    def record_signature_confirmations(self, incomings: list[IncomingEvent]) -> None:
        self.execute_many([self._follower_command(incoming, lambda follower, data: follower.confirm(
            data["petition_id"], data["contact_consent"])) for incoming in incomings])

    def record_signature_invalidations(self, incomings: list[IncomingEvent]) -> None:
        self.execute_many([self._follower_command(incoming, lambda follower, data: follower.invalidate(
            data["petition_id"])) for incoming in incomings])

    def record_signers_forgotten(self, incomings: list[IncomingEvent], reason: str = "forgotten") -> None:
        """petitions.SignerForgotten (an erased member's signatures) and petitions.SignatureLapsed
        (`reason` "lapsed": never confirmed): the follower goes, with its key, and the bytes of
        what it held go from the files (an erasure: `shredding.scrub`)."""
        self.execute_many([self._follower_command(incoming, lambda follower, data: follower.invalidate(
            data["petition_id"], reason=reason)) for incoming in incomings])
        scrub(self.db)

    def _follower_command(self, incoming: IncomingEvent, decide: Callable[[PetitionFollower, dict], bool]):
        data = incoming.payload

        def command(uow: UnitOfWork):
            if not uow.first_delivery("mailer.petition-follower", incoming.event_id):
                return
            if decide(self._follower(uow, data["signature_id"]), data):
                # dropped: the signature's key goes, its sealed address with it (the read model's row too)
                uow.store.shredder.forget(uow.conn, data["signature_id"])

        return incoming.context(), command

    @staticmethod
    def _follower(uow: UnitOfWork, signature_id: str) -> PetitionFollower:
        follower = uow.get(PetitionFollower, signature_id)
        if follower is None:
            follower = PetitionFollower(signature_id)
            uow.add(follower)
        return follower

    def queue_milestone_emails(self, incoming: IncomingEvent, page_size: int = FOLLOWERS_PAGE) -> int:
        """One email to each follower of the petition; returns how many were queued.

        A petition may have 100,000 followers: they are paged through,
        `FOLLOWERS_PAGE` a transaction, each email's id derived from the event
        and the signature, so a redelivery (a crash halfway) queues only the
        ones not queued yet. The event is recorded as processed at the end:
        a redelivery after that does nothing at all."""
        consumer, data = "mailer.petition-milestone", incoming.payload
        with self.read() as conn:
            if conn.execute(_PROCESSED, {"consumer": consumer, "event_id": incoming.event_id}).first():
                return 0
        inputs = {"petition_id": data["petition_id"], "petition_title": data["petition_title"],
                  "milestone": data["milestone"], "signature_count": data["signature_count"], "goal": data["goal"]}

        def page(after: str):
            def command(uow: UnitOfWork):
                followers = followers_after(uow.conn, data["petition_id"], after, page_size)
                ids = {f.signature_id: email_id_for(f"{incoming.event_id}:{f.signature_id}", "petition-milestone")
                       for f in followers}
                queued = uow.get_many(OutgoingEmail, ids.values())  # by an earlier delivery of this event
                for f in followers:
                    if ids[f.signature_id] not in queued:
                        uow.add(OutgoingEmail.queue(ids[f.signature_id], "petition-milestone", f.recipient,
                                                    "petition-milestone", {**inputs, "first_name": f.first_name,
                                                    "unsubscribe": unsubscribe_nonce(
                                                        "petition", f.signature_id, data["petition_id"])}))
                last = followers[-1].signature_id if len(followers) == page_size else None
                return last, len(followers) - len(queued)

            return command

        total, after = 0, ""
        while after is not None:
            after, queued = self.execute(incoming.context(), page(after))
            total += queued
        self.execute(incoming.context(), lambda uow: uow.first_delivery(consumer, incoming.event_id))
        return total

    def _over_limit(self, uow: UnitOfWork, to: str) -> bool:
        """Count one more email to `to` in its window; True beyond the limit.

        A counter, not a count of the `emails` rows: an email keyed to itself
        (a petition signer's) loses its address once delivered, and would no
        longer be counted. One upsert that returns the new count, in the
        command's transaction: two transactions for one address get distinct
        counts (PostgreSQL's row lock), and a command decided again counts again
        from scratch (rolled back with it)."""
        now = datetime.now(timezone.utc)
        values = {"key": recipient_key(self._secret_key, to), "now": now, "ends": now + self.rate_limit.window}
        count = uow.conn.execute(_counter_hit(uow.conn.dialect.name), values).scalar_one()
        return count > self.rate_limit.count

    def prune_counters(self, every: float = 60.0) -> int:
        """Drop the rate-limit counters whose window has ended (at most once every `every` seconds)."""
        now = time.monotonic()
        if now < self._next_prune:
            return 0
        self._next_prune = now + every
        return self.execute(Context(), lambda uow: throttle.prune(uow.conn, datetime.now(timezone.utc)))

    # -- delivery ----------------------------------------------------------
    def deliver_due(self, transport, limit: int = 100) -> int:
        """Send what is due, recording each outcome as soon as it is known;
        returns how many were sent.

        Through SMTP each email is recorded in its own transaction right after
        the server accepted it: a crash re-sends at most the one message in
        flight (the old batch record re-sent up to a whole batch, issue 6 item
        20), and a second copy reaches a real person. A transport that
        `repeats_harmlessly` (the `.eml` sink: a resend overwrites the same
        file) has the batch's outcomes recorded in one transaction after it:
        a crash then writes up to the batch again, and nobody sees it twice.
        """
        now = datetime.now(timezone.utc)
        query = (
            select(emails.c.email_id, emails.c.recipient, emails.c.template, emails.c.inputs)
            .where(emails.c.status == "pending", or_(emails.c.next_attempt_at.is_(None), emails.c.next_attempt_at <= now))
            .order_by(emails.c.next_attempt_at)
            .limit(limit)
        )
        with self.read() as conn:  # one query for the batch
            due = list(conn.execute(query).mappings())
        record_together = getattr(transport, "repeats_harmlessly", False)
        outcomes = []
        sent = 0
        contents: dict[str, dict] = {}  # campaigns.py: each campaign's subject and bodies, read once a batch
        for row in due:
            failure = None
            try:
                inputs = jsontext.decode(row["inputs"]) if row["inputs"] is not None else {}
                if row["template"] == "campaign":  # its words are the campaign's, not copied into each email
                    campaign_id = inputs.get("campaign_id") or ""
                    if campaign_id not in contents:
                        contents[campaign_id] = self.campaign_content(campaign_id)
                    inputs = {**inputs, **contents[campaign_id]}
                subject, text_body, html_body = composer.render(row["template"], inputs, self.public_url, self.links)
                message = composer.mime_message(row["email_id"], self.sender, row["recipient"], subject, text_body,
                                                html_body, composer.unsubscribe_link(inputs, self.public_url, self.links),
                                                composer.meeting_calendar(row["template"], inputs, self.public_url))
                transport.send(row["email_id"], message)
            except TransportError as exc:
                log.warning("delivery of email %s failed: %s", row["email_id"], exc)
                failure = str(exc)
            except composer.CannotRender as exc:  # its text names a template or an input, no data
                log.warning("email %s cannot be rendered: %s", row["email_id"], exc)
                failure = f"cannot be rendered: {exc}"
            except Exception as exc:
                # One unsendable email must not stop the others. The class
                # only: an exception's text may hold the address or the body.
                log.warning("email %s could not be sent: %s", row["email_id"], type(exc).__name__)
                failure = f"cannot be sent: {type(exc).__name__}"
            if record_together:
                outcomes.append((row["email_id"], failure))
            else:
                self._record_outcome(row["email_id"], failure, now)
            sent += failure is None
        if outcomes:
            self._record_outcomes(outcomes, now)
        return sent

    def _outcome(self, email_id: str, failure: str | None, now: datetime):
        def record(uow: UnitOfWork):
            email = uow.get(OutgoingEmail, email_id)
            if failure is None:
                email.mark_sent()
            else:
                email.mark_failed(failure, now)

        return Context(), record

    def _record_outcome(self, email_id: str, failure: str | None, now: datetime) -> None:
        self.execute(*self._outcome(email_id, failure, now))

    def _record_outcomes(self, outcomes: list[tuple[str, str | None]], now: datetime) -> None:
        try:
            self.execute_many([self._outcome(email_id, failure, now) for email_id, failure in outcomes])
        except Exception as exc:  # one record that cannot be made must not hold back the others
            log.warning("recording %d deliveries together failed (%s): one by one", len(outcomes), type(exc).__name__)
            for email_id, failure in outcomes:
                self._record_outcome(email_id, failure, now)

    @staticmethod
    def queued_any(recorded) -> bool:
        return any(isinstance(r.event, EmailQueued) for r in recorded)
