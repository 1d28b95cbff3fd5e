"""The mailer's events. All private: they hold addresses and names.

Since issue 6 (item 8) an `EmailQueued` holds what the email is made from (the
template and its inputs: a first name, a link nonce), never a rendered body or
a usable link token: the message is rendered when it is sent, so neither the
store nor the read models hold anything that verifies an address or resets a
password.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from umpnet_kernel.events import DomainEvent, describe


def _queued_v1_to_v2(data: dict) -> dict:
    # v1 stored the rendered message; it is sent as it was rendered (the
    # "prerendered" template). New emails never store a body.
    return {
        "email_id": data["email_id"],
        "kind": data["kind"],
        "to": data["to"],
        "template": "prerendered",
        "inputs": {"subject": data["subject"], "text_body": data["text_body"], "html_body": data["html_body"]},
        "member_id": data.get("member_id"),
    }


# Whose key seals an email's address and inputs: its member's, else (an
# invitation, or a petition signer's email: to someone who is nobody here yet)
# the email's own, destroyed once it is delivered, given up or suppressed, or
# (an invitation) at the erasure of the member with its address (privacy.py).
EMAIL_SUBJECT = ("member_id", "email_id")


@dataclass(frozen=True)
class EmailQueued(DomainEvent, name="mailer.EmailQueued", version=2, public=False, subject=EMAIL_SUBJECT):
    email_id: str
    kind: str = field(metadata=describe("what the email is for: 'verification', 'password-reset', 'account-exists', "
                                        "'invitation', 'petition-confirmation', 'petition-milestone', 'campaign', "
                                        "'meeting-confirmed', 'meeting-waitlisted', 'meeting-promoted', "
                                        "'meeting-changed', 'meeting-cancelled', 'meeting-reminder', "
                                        "'meeting-announcement', 'debate-reply', 'debate-digest'"))
    to: str = field(metadata=describe("recipient address", personal=True))
    template: str = field(metadata=describe("the template the message is rendered from when it is sent"))
    inputs: dict = field(
        metadata=describe("what the template needs (first_name, link_nonce): never a usable token", personal=True)
    )
    member_id: str | None = None

    upcasters = {1: _queued_v1_to_v2}


@dataclass(frozen=True)
class EmailSuppressed(DomainEvent, name="mailer.EmailSuppressed", public=False, subject=EMAIL_SUBJECT):
    """An email that was not sent, and never will be: `reason` says why ('rate-limited')."""

    email_id: str
    kind: str
    to: str = field(metadata=describe("recipient address", personal=True))
    reason: str
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


@dataclass(frozen=True)
class RecipientForgotten(DomainEvent, name="mailer.RecipientForgotten", public=False):
    """The member was erased (`members.MemberErased`): their emails are dropped
    from the read model, and their key, so the addresses and inputs of their
    `EmailQueued` and `EmailSuppressed` load as placeholders (privacy.py)."""

    member_id: str


# -- a petition's followers: the signers who agreed to hear from it (followers.py) --------
@dataclass(frozen=True)
class FollowerAddressed(DomainEvent, name="mailer.PetitionFollowerAddressed", public=False, subject="signature_id"):
    """A signer agreed to hear about the petition (`contact_consent` of
    `petitions.SignatureRequested`): where its news go once the signature is
    confirmed. Sealed with the signature's own key, destroyed when the
    follower is dropped."""

    signature_id: str
    petition_id: str
    email: str = field(metadata=describe("the signer's address", personal=True))
    first_name: str = field(metadata=describe("the signer's first name", personal=True))


@dataclass(frozen=True)
class FollowerConfirmed(DomainEvent, name="mailer.PetitionFollowerConfirmed", public=False):
    """The signature was confirmed, its signer still agreeing to hear from the petition."""

    signature_id: str
    petition_id: str


@dataclass(frozen=True)
class FollowerDropped(DomainEvent, name="mailer.PetitionFollowerDropped", public=False):
    """No news of the petition to this signer, ever: `reason` is 'no-consent' (the
    signature was confirmed without it) or 'invalidated'. Its key is destroyed."""

    signature_id: str
    petition_id: str
    reason: str


# -- the recipients directory: who the members are, from members' public events (directory.py) ----
@dataclass(frozen=True)
class RecipientNoted(DomainEvent, name="mailer.RecipientNoted", public=False):
    """What the mailer knows of a member to write to them, as it now stands, made
    from `members.MemberRegistered`, `EmailVerified` and `ProfileUpdated` (in any
    order: `source_version` is the members stream version of the profile kept).
    Sealed with the member's key; forgotten at `members.MemberErased`."""

    member_id: str
    email: str = field(metadata=describe("the member's address ('' until MemberRegistered is known)", personal=True))
    first_name: str = field(metadata=describe("to greet the member", personal=True))
    lat: float | None = field(metadata=describe("latitude of the member's commune (from the postcode)", personal=True))
    lon: float | None = field(metadata=describe("longitude of the member's commune", personal=True))
    federation_code: str
    themes: tuple[str, ...]
    contact_consent: bool = field(metadata=describe("accepts emails from the party (announcements)"))
    verified: bool = field(metadata=describe("the address was verified"))
    source_version: int = field(metadata=describe("members stream version of the profile fields"))
    announcements_off: bool = field(default=False, metadata=describe(
        "unsubscribed from meeting announcements (an email's List-Unsubscribe link): for good, whatever the profile says"))
    display_name: str = field(default="", metadata=describe(
        "what other members see: first name and initial of the last name (a blog's owner)", personal=True))
    roles: tuple[str, ...] = field(default=(), metadata=describe("the member's roles (members.RolesChanged)"))
    roles_version: int = field(default=0, metadata=describe("members stream version of the roles kept"))
    campaigns_off: bool = field(default=False, metadata=describe(
        "unsubscribed from campaigns (a campaign email's List-Unsubscribe link): for good"))


# -- meetings (meetings.py): the mailer's own copy of what it needs of the events service ---------
@dataclass(frozen=True)
class MeetingNoted(DomainEvent, name="mailer.MeetingNoted", public=False):
    """A meeting as it now stands (`events.MeetingPublished` / `MeetingChanged` /
    `MeetingCancelled`): what its emails say, and who its announcement reaches."""

    meeting_id: str
    organizer_id: str | None
    title: str
    starts_at: datetime
    ends_at: datetime
    timezone: str
    city: str
    postcode: str
    lat: float | None
    lon: float | None
    federation_code: str | None
    theme: str | None
    online_url: str | None
    notify_radius_km: float
    status: str = field(metadata=describe("'published' or 'cancelled'"))
    source_version: int = field(metadata=describe("the events service's stream version it was made from"))


@dataclass(frozen=True)
class AttendeeNoted(DomainEvent, name="mailer.AttendeeNoted", public=False):
    """A member's registration to a meeting as it now stands: 'confirmed',
    'waitlisted' or 'cancelled' (`events.Registration*`, `WaitlistPromoted`)."""

    meeting_id: str
    member_id: str
    status: str
    source_stream: str
    source_version: int


@dataclass(frozen=True)
class MeetingReminderQueued(DomainEvent, name="mailer.MeetingReminderQueued", public=False):
    """The day-before reminders of a meeting starting at `starts_at` are queued (once per start)."""

    meeting_id: str
    starts_at: datetime


# -- debate replies (replies.py) ---------------------------------------------------------------
@dataclass(frozen=True)
class ReplyModeNoted(DomainEvent, name="mailer.ReplyModeNoted", public=False):
    """`debates.ReplyNotificationsChosen`: 'digest' (the default) or 'each'."""

    member_id: str
    mode: str
    source_version: int


@dataclass(frozen=True)
class ReplyGathered(DomainEvent, name="mailer.ReplyGathered", public=False, subject="contribution_id"):
    """A reply to `member_id`'s contribution, waiting for their daily digest. Sealed with a key of
    its own (the contribution's), destroyed once the digest is queued or at the erasure of either
    member: the replier's name and words do not outlive their use here."""

    contribution_id: str
    member_id: str = field(metadata=describe("who is replied to (the digest's recipient)"))
    author_id: str
    debate_id: str
    debate_title: str
    author_name: str = field(metadata=describe("the replier's first name", personal=True))
    excerpt: str = field(metadata=describe("the reply's first words", personal=True))


@dataclass(frozen=True)
class ReplyVisibilityNoted(DomainEvent, name="mailer.ReplyVisibilityNoted", public=False):
    """`debates.ContributionHidden` (hidden) / `ContributionRestored`: a hidden reply is left out of a digest."""

    contribution_id: str
    hidden: bool


@dataclass(frozen=True)
class DigestQueued(DomainEvent, name="mailer.DigestQueued", public=False):
    """The day's digest of replies to `member_id` is queued: these replies are no longer pending."""

    member_id: str
    day: str = field(metadata=describe("the Paris date of the digest, YYYY-MM-DD"))
    contribution_ids: tuple[str, ...]


@dataclass(frozen=True)
class Unsubscribed(DomainEvent, name="mailer.Unsubscribed", public=False):
    """Someone followed an email's unsubscribe link (`{PUBLIC_URL}/unsubscribe?token=...`, RFC 8058):
    `what` is 'announcements' (meeting announcements; `subject_id` a member), 'replies' (debate
    reply notifications; a member), 'campaigns' (campaigns and newsletters; a member) or 'petition'
    (a petition's milestones; a signature, `petition_id`)."""

    subject_id: str
    what: str
    petition_id: str | None = None


# -- campaigns (campaigns.py): an admin's email to a segment of the members ----------------------
@dataclass(frozen=True)
class CampaignCreated(DomainEvent, name="mailer.CampaignCreated", public=False):
    """A campaign is drafted: what it says and to whom (the segment as the author asked for it)."""

    campaign_id: str
    author_id: str
    author_federation: str | None = field(metadata=describe("the author's federation when they wrote it"))
    subject_line: str = field(metadata=describe("the email's subject (`subject` is the sealing key's name here)"))
    body_markdown: str = field(metadata=describe("the body as written (Markdown), rendered and sanitised"))
    segment: dict = field(metadata=describe("federations, themes, near {postcode, radius_km}, roles, top_blogs"))
    recipient_count: int = field(metadata=describe("members the segment held when it was drafted"))


@dataclass(frozen=True)
class CampaignSendRequested(DomainEvent, name="mailer.CampaignSendRequested", public=False):
    """Its author asked for it to be sent: the segment is resolved from now on, in the background."""

    campaign_id: str


@dataclass(frozen=True)
class CampaignRecipientsQueued(DomainEvent, name="mailer.CampaignRecipientsQueued", public=False):
    """A page of the segment got its emails queued (one `EmailQueued` each, with an id derived
    from the campaign and the member): who, so that the deliveries can be counted per campaign."""

    campaign_id: str
    member_ids: tuple[str, ...]


@dataclass(frozen=True)
class CampaignQueued(DomainEvent, name="mailer.CampaignQueued", public=False):
    """Every member of the segment has their email queued: `total` of them."""

    campaign_id: str
    total: int


@dataclass(frozen=True)
class CampaignSent(DomainEvent, name="mailer.CampaignSent", public=False):
    """No email of the campaign is pending any more: `sent` were delivered, `failed` given up."""

    campaign_id: str
    sent: int
    failed: int


# -- activists' blogs (blogs.py): the newsletter's targets, scored from their feeds ----------------
@dataclass(frozen=True)
class BlogRegistered(DomainEvent, name="mailer.BlogRegistered", public=False, subject="owner_id"):
    """A member registered their blog. Its addresses are the owner's (sealed with their key)."""

    blog_id: str = field(metadata=describe("from a keyed hash of the normalised address: one registration per address"))
    owner_id: str
    url: str = field(metadata=describe("the blog's address", personal=True))
    feed_url: str = field(metadata=describe("its RSS or Atom feed", personal=True))


@dataclass(frozen=True)
class BlogScored(DomainEvent, name="mailer.BlogScored", public=False):
    """The feed was read: its activity score (entries of the last 90 days, weighted by recency)."""

    blog_id: str
    activity_score: float
    recent_entries: int
    checked_at: datetime


@dataclass(frozen=True)
class BlogFeedFailed(DomainEvent, name="mailer.BlogFeedFailed", public=False):
    """The feed could not be read (refused address, timeout, too large, not a feed): the score stays."""

    blog_id: str
    reason: str
    checked_at: datetime


@dataclass(frozen=True)
class BlogRemoved(DomainEvent, name="mailer.BlogRemoved", public=False):
    """The blog is no longer listed: `reason` 'owner-erased'. Its address may be registered again."""

    blog_id: str
    reason: str
