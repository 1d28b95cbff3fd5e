"""The mailer's read models: the delivery queue and its history; each
petition's followers.

No rendered body is kept (issue 6, item 8): a pending email keeps its template
and inputs (a first name, a link nonce useless without the secret key), and
even those are dropped once it is sent or given up.
"""
from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Index, Integer, String, Table, Text, bindparam, select, true

from umpnet_kernel.projections import KeyedProjection, handles

from .events import (
    EmailDeliveryFailed,
    EmailQueued,
    EmailSent,
    EmailSuppressed,
    FollowerAddressed,
    FollowerConfirmed,
    FollowerDropped,
)

# The metadata of every read model, and the erasure's forget functions (registry.py).
from .registry import FORGETTERS, forgets, forgotten_stream, read_models  # noqa: E402,F401

emails = Table(
    "emails",
    read_models,
    Column("email_id", String(36), primary_key=True),
    Column("kind", String(50), nullable=False),
    Column("member_id", String(36)),
    Column("recipient", String(320), nullable=False),
    Column("template", String(50)),  # None for a suppressed email
    Column("inputs", Text),  # JSON; None once the email is no longer pending
    Column("status", String(20), nullable=False),  # pending | sent | failed | suppressed | forgotten
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
    json_columns = ("inputs",)

    @handles(EmailQueued)
    def queued(self, row, e: EmailQueued, recorded):
        if not e.to:  # its key is gone (privacy.py): nothing to send it to, ever
            return {"email_id": e.email_id, "kind": e.kind, "member_id": e.member_id, "recipient": "",
                    "template": e.template, "inputs": None, "status": "forgotten", "attempts": 0,
                    "next_attempt_at": None, "queued_at": recorded.meta.occurred_at, "sent_at": None}
        return {
            "email_id": e.email_id,
            "kind": e.kind,
            "member_id": e.member_id,
            "recipient": e.to,
            "template": e.template,
            "inputs": e.inputs,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": recorded.meta.occurred_at,
            "queued_at": recorded.meta.occurred_at,
            "sent_at": None,
        }

    @handles(EmailSuppressed)
    def suppressed(self, row, e: EmailSuppressed, recorded):
        # an email keyed to itself loses its key at once (privacy.DoneEmailKeys), its address with it
        own_key = e.kind in OWN_KEY_KINDS and e.member_id is None
        return {
            "email_id": e.email_id,
            "kind": e.kind,
            "member_id": e.member_id,
            "recipient": "" if own_key else e.to,
            "template": None,
            "inputs": None,
            "status": "suppressed",
            "attempts": 0,
            "next_attempt_at": None,
            "queued_at": recorded.meta.occurred_at,
            "sent_at": None,
        }

    # An email whose recipient was erased (privacy.py) has no row: its
    # outcome, recorded by a postman that was sending it meanwhile, changes nothing.
    # An invitation email (keyed to itself: no member) keeps no address once done.
    @handles(EmailSent)
    def sent(self, row, e, recorded):
        if row is None:
            return None
        return {**row, "status": "sent", "inputs": None, "next_attempt_at": None, "sent_at": recorded.meta.occurred_at,
                **_no_address_if_own_key(row)}

    @handles(EmailDeliveryFailed)
    def failed(self, row, e: EmailDeliveryFailed, recorded):
        if row is None:
            return None
        if e.retry_at is None:  # given up: nothing left to render
            return {**row, "status": "failed", "inputs": None, "attempts": e.attempt, "next_attempt_at": None,
                    **_no_address_if_own_key(row)}
        if row["status"] == "forgotten":  # an attempt that was under way when its address was forgotten
            return {**row, "attempts": e.attempt}
        return {**row, "status": "pending", "attempts": e.attempt, "next_attempt_at": e.retry_at}


# The kinds of email sent to someone who is nobody here (no member id): each is
# sealed with its own key, gone once the email is done (privacy.DoneEmailKeys).
OWN_KEY_KINDS = ("invitation", "petition-confirmation", "petition-milestone", "debate-reply", "debate-digest")


def _no_address_if_own_key(row: dict) -> dict:
    # by kind: emails of no member from before member ids existed were stored in clear, and keep theirs
    return {"recipient": ""} if row["kind"] in OWN_KEY_KINDS and row["member_id"] is None else {}


# -- a petition's followers: the signers to write to when it reaches a milestone --
petition_followers = Table(
    "petition_followers",
    read_models,
    Column("signature_id", String(36), primary_key=True),
    Column("petition_id", String(36), nullable=False),
    Column("recipient", String(320), nullable=False),  # "" until the address is known
    Column("first_name", Text, nullable=False),
    Column("confirmed", Boolean, nullable=False),
    Column("following", Boolean, nullable=False),  # confirmed, consenting, its address known
)
# A milestone pages through a petition's followers in signature order.
Index("ix_petition_followers_following", petition_followers.c.petition_id, petition_followers.c.following,
      petition_followers.c.signature_id)


class FollowersProjection(KeyedProjection):
    """One row per follower (domain/follower.py); a dropped one has none."""

    name = "petition_followers"
    table = petition_followers
    key_column = "signature_id"

    @handles(FollowerAddressed)
    def addressed(self, row, e: FollowerAddressed, recorded):
        confirmed = bool(row and row["confirmed"])
        return {"signature_id": e.signature_id, "petition_id": e.petition_id, "recipient": e.email,
                "first_name": e.first_name, "confirmed": confirmed, "following": confirmed and bool(e.email)}

    @handles(FollowerConfirmed)
    def confirmed(self, row, e: FollowerConfirmed, recorded):
        row = row or {"signature_id": e.signature_id, "petition_id": e.petition_id, "recipient": "", "first_name": ""}
        return {**row, "confirmed": True, "following": bool(row["recipient"])}

    @handles(FollowerDropped)
    def dropped(self, row, e, recorded):
        return None


_f = petition_followers.c
FOLLOWERS_PAGE = 500  # followers emailed in one transaction
_FOLLOWERS_AFTER = (
    select(_f.signature_id, _f.recipient, _f.first_name)
    .where(_f.petition_id == bindparam("petition_id"), _f.following == true(), _f.signature_id > bindparam("after"))
    .order_by(_f.signature_id)
    .limit(bindparam("limit", type_=Integer))
)


def followers_after(conn, petition_id: str, after: str = "", limit: int = FOLLOWERS_PAGE) -> list:
    """The next page of a petition's followers, after signature id `after` (keyset)."""
    return conn.execute(_FOLLOWERS_AFTER, {"petition_id": petition_id, "after": after, "limit": limit}).all()


def all_projections():
    from umpnet_kernel.shredding import ForgetSubjects

    from .events import RecipientForgotten
    from .privacy import DoneEmailKeys

    from .blogs import BlogsProjection
    from .campaigns import CampaignDeliveriesProjection, CampaignsProjection
    from .directory import RecipientsProjection
    from .meetings import AttendeesProjection, MeetingNoticesProjection
    from .replies import PendingRepliesProjection, ReplyModesProjection

    # last: an erased member's emails are forgotten, in a rebuild too (privacy.py)
    return [EmailsProjection(), FollowersProjection(), RecipientsProjection(), MeetingNoticesProjection(),
            AttendeesProjection(), ReplyModesProjection(), PendingRepliesProjection(), CampaignsProjection(),
            CampaignDeliveriesProjection(), BlogsProjection(), DoneEmailKeys(),
            ForgetSubjects(RecipientForgotten, "member_id", FORGETTERS)]


# The read models of the recipients directory, the meetings, the debate replies, the campaigns and the blogs
# live beside their use cases; imported here so that `read_models` holds every table.
from . import blogs, campaigns, directory, meetings, replies  # noqa: E402,F401
