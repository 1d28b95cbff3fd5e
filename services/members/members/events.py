"""The members service's events: the contract other services subscribe to.

Public events go to the `members.events` exchange; private ones stay in the
members store. Fields marked personal must be erased by subscribers when the
member asks to be forgotten.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from umpnet_kernel.events import DomainEvent, describe


@dataclass(frozen=True)
class MemberRegistered(DomainEvent, name="members.MemberRegistered", version=1):
    """Someone signed up. They belong to a local federation and to the digital one."""

    member_id: str
    email: str = field(metadata=describe("login and contact address", personal=True))
    first_name: str = field(metadata=describe("first name", personal=True))
    last_name: str = field(metadata=describe("last name", personal=True))
    postcode: str = field(metadata=describe("home postcode", personal=True))
    city: str = field(metadata=describe("the postcode's commune"))
    federation_code: str = field(metadata=describe("local federation: a département code"))
    themes: tuple[str, ...] = field(default=(), metadata=describe("theme slugs the member follows"))
    invited_by: str | None = field(default=None, metadata=describe("member id of the inviter, if any"))


@dataclass(frozen=True)
class PasswordSet(DomainEvent, name="members.PasswordSet", public=False):
    """The member's password hash (argon2id) changed. Never leaves the service."""

    member_id: str
    password_hash: str


def _verification_v1_to_v2(data: dict) -> dict:
    # v1 carried a usable signed token; its links can no longer be honoured
    # (no nonce to check them against): the member asks for a new email.
    data = {k: v for k, v in data.items() if k != "token"}
    return {**data, "link_nonce": "", "expires_at": "1970-01-01T00:00:00+00:00"}


@dataclass(frozen=True)
class EmailVerificationRequested(DomainEvent, name="members.EmailVerificationRequested", version=2):
    """An email proving the address must be sent.

    `link_nonce` is useless alone: the mailer renders it into the link's token
    with the installation's secret key (umpnet_kernel.links, purpose
    "verify-email"), so the store never holds a token that verifies anything.
    """

    upcasters = {1: _verification_v1_to_v2}

    member_id: str
    email: str = field(metadata=describe("where to send it", personal=True))
    first_name: str = field(metadata=describe("to greet the member", personal=True))
    link_nonce: str = field(metadata=describe("nonce of the link's token (not usable without the secret key)"))
    expires_at: datetime = field(metadata=describe("the link works until then"))


@dataclass(frozen=True)
class DuplicateSignUpAttempted(DomainEvent, name="members.DuplicateSignUpAttempted", version=1):
    """Someone signed up again with a registered address: its owner is told
    (an account exists; log in or reset the password), the caller is told
    nothing different from a new sign-up."""

    member_id: str
    email: str = field(metadata=describe("where to send the notice", personal=True))
    first_name: str = field(metadata=describe("to greet the member", personal=True))


@dataclass(frozen=True)
class PasswordResetRequested(DomainEvent, name="members.PasswordResetRequested", version=1):
    """The member asked for a password reset link (purpose "reset-password")."""

    member_id: str
    email: str = field(metadata=describe("where to send it", personal=True))
    first_name: str = field(metadata=describe("to greet the member", personal=True))
    link_nonce: str = field(metadata=describe("nonce of the link's token (not usable without the secret key)"))
    expires_at: datetime = field(metadata=describe("the link works until then"))


@dataclass(frozen=True)
class PasswordResetCompleted(DomainEvent, name="members.PasswordResetCompleted", public=False):
    """A reset link was used: every reset link of the member stops working."""

    member_id: str


@dataclass(frozen=True)
class EmailVerified(DomainEvent, name="members.EmailVerified", version=1):
    member_id: str


def _profile_v1_to_v2(data: dict) -> dict:
    return {**data, "shown_fields": []}


def _profile_v2_to_v3(data: dict) -> dict:
    # Before v3 nobody could refuse contact requests: every member accepted them
    # (the same as a new member's default).
    return {**data, "accepts_contact_requests": True}


def _profile_v3_to_v4(data: dict) -> dict:
    # Before v4 a profile had no skills.
    return {**data, "skills": []}


@dataclass(frozen=True)
class ProfileUpdated(DomainEvent, name="members.ProfileUpdated", version=4):
    """The member's profile as it now stands (the whole of it, not a diff)."""

    upcasters = {1: _profile_v1_to_v2, 2: _profile_v2_to_v3, 3: _profile_v3_to_v4}

    member_id: str
    first_name: str = field(metadata=describe("first name", personal=True))
    last_name: str = field(metadata=describe("last name", personal=True))
    postcode: str = field(metadata=describe("home postcode", personal=True))
    city: str
    federation_code: str
    themes: tuple[str, ...]
    bio: str = field(metadata=describe("free text the member wrote", personal=True))
    blog_url: str | None = field(metadata=describe("the member's blog", personal=True))
    map_visible: bool = field(metadata=describe("shown on the members' map (coarsened)"))
    contact_consent: bool = field(metadata=describe("accepts to be contacted by the party"))
    shown_fields: tuple[str, ...] = field(
        default=(), metadata=describe("what other members may see besides the display name")
    )
    # Not contact_consent: that one is about the party, this one about other members.
    accepts_contact_requests: bool = field(
        default=True, metadata=describe("other members may send contact requests")
    )
    skills: tuple[str, ...] = field(
        default=(), metadata=describe("what the member can do, in their words", personal=True)
    )


def _roles_v1_to_v2(data: dict) -> dict:
    # v1 did not say who changed the roles: that author is unknown, not an operator.
    return {**data, "changed_by": None}


@dataclass(frozen=True)
class RolesChanged(DomainEvent, name="members.RolesChanged", version=2):
    """The member's roles as they now stand, and who set them."""

    upcasters = {1: _roles_v1_to_v2}

    member_id: str
    roles: tuple[str, ...]
    changed_by: str | None = field(
        default=None,
        metadata=describe("member id of the admin who changed them; none for an operator (umpnet grant-role)"),
    )


@dataclass(frozen=True)
class SessionOpened(DomainEvent, name="members.SessionOpened", public=False):
    """A login. Only a hash of the bearer token is kept."""

    session_id: str
    member_id: str
    token_hash: str
    expires_at: datetime


@dataclass(frozen=True)
class SessionClosed(DomainEvent, name="members.SessionClosed", public=False):
    session_id: str
    member_id: str
    token_hash: str


@dataclass(frozen=True)
class SessionEnded(DomainEvent, name="members.SessionEnded", version=1):
    """A session of the member ended (a logout, a password reset or an erasure closing it):
    SessionClosed's public side, without the token's digest, so that every gateway process
    forgets at once what it remembered of the member's sessions."""

    session_id: str
    member_id: str


# -- contacts: one stream per pair of members (domain/contact.py) -------------
@dataclass(frozen=True)
class ContactRequested(DomainEvent, name="members.ContactRequested", version=1):
    """A member asked another to be contacts."""

    contact_id: str = field(metadata=describe("the pair's id, the same whoever asks"))
    requester_id: str = field(metadata=describe("member id of who asks"))
    addressee_id: str = field(metadata=describe("member id of who is asked"))


@dataclass(frozen=True)
class ContactAccepted(DomainEvent, name="members.ContactAccepted", version=1):
    """The addressee accepted (or asked back): the two see each other's email."""

    contact_id: str = field(metadata=describe("the pair's id (ContactRequested)"))
    requester_id: str = field(metadata=describe("member id of who asked"))
    addressee_id: str = field(metadata=describe("member id of who accepted"))


@dataclass(frozen=True)
class ContactDeclined(DomainEvent, name="members.ContactDeclined", version=1):
    """The addressee declined a request; the requester may ask again."""

    contact_id: str = field(metadata=describe("the pair's id (ContactRequested)"))
    requester_id: str = field(metadata=describe("member id of who asked"))
    addressee_id: str = field(metadata=describe("member id of who declined"))


@dataclass(frozen=True)
class ContactRemoved(DomainEvent, name="members.ContactRemoved", version=1):
    """A request withdrawn by its requester, or an accepted contact removed by either member."""

    contact_id: str = field(metadata=describe("the pair's id (ContactRequested)"))
    removed_by: str = field(metadata=describe("member id of who removed it"))
    other_id: str = field(metadata=describe("member id of the other member"))


# -- invitations: one stream per invitation (domain/invitation.py) ------------
@dataclass(frozen=True)
class InvitationSent(DomainEvent, name="members.InvitationSent", version=1, subject="invitation_id"):
    """A member invited someone by email. The mailer renders `link_nonce` into
    the sign-up link's token (umpnet_kernel.links, purpose "invitation"): the
    store never holds a usable token. `emailed` is false when the address was
    already sent enough invitations lately: the invitation counts, no email goes.
    Sealed with the invitation's own key: it holds two people's data (the
    invitee's address, the inviter's name), and either one's erasure destroys
    it (privacy.py). Those stored before were sealed with the inviter's key."""

    invitation_id: str
    inviter_id: str = field(metadata=describe("member id of who invites"))
    email: str = field(metadata=describe("the invitee's address", personal=True))
    inviter_name: str = field(metadata=describe("the inviter's display name, for the email", personal=True))
    link_nonce: str = field(metadata=describe("nonce of the link's token (not usable without the secret key)"))
    expires_at: datetime = field(metadata=describe("the link credits the inviter until then"))
    emailed: bool = field(default=True, metadata=describe("an email is to be sent"))


@dataclass(frozen=True)
class InvitationFollowed(DomainEvent, name="members.InvitationFollowed", public=False):
    """Someone signed up through an invitation (an email's link, or a member's
    personal link: `personal`); credited once they verify their address."""

    invitation_id: str
    inviter_id: str
    member_id: str
    personal: bool = False


@dataclass(frozen=True)
class InvitationAccepted(DomainEvent, name="members.InvitationAccepted", version=1):
    """The member who signed up through an invitation verified their address:
    the invitation is accepted, its inviter credited."""

    invitation_id: str = field(metadata=describe("the invitation (InvitationSent, or a personal link's)"))
    inviter_id: str = field(metadata=describe("member id of who invited"))
    member_id: str = field(metadata=describe("member id of who joined"))


@dataclass(frozen=True)
class InvitationLinkIssued(DomainEvent, name="members.InvitationLinkIssued", public=False):
    """A member's personal, reusable invitation link (to share anywhere): its
    token is made from `link_nonce` with the secret key (purpose "invitation-link")."""

    member_id: str
    link_nonce: str


# -- external identities: a log-in provider's account linked to a member -----
@dataclass(frozen=True)
class ExternalIdentityLinked(DomainEvent, name="members.ExternalIdentityLinked", public=False):
    """A provider's account (Facebook) now logs this member in. Linked only
    when the provider vouches for the address and the member verified it."""

    identity_id: str
    provider: str
    account_id: str  # the provider's id for the account (OAuth's "subject")
    member_id: str


# -- talents (issue 8 item 7, members/talent_sources.py) ---------------------------
@dataclass(frozen=True)
class TalentCredited(DomainEvent, name="members.TalentCredited", public=False):
    """What another service's event credited (a remote talent source), recorded once
    per delivered event so that the scores it feeds are rebuilt from this store."""

    source_event_id: str
    source_event_type: str
    occurred_at: datetime
    credits: dict  # {source name: {"points": {member id: points}, "once": key or None}}


# -- erasure (GDPR art. 17): privacy.py -----------------------------------------
@dataclass(frozen=True)
class MemberErased(DomainEvent, name="members.MemberErased", version=1):
    """The member asked to be forgotten: every service drops or anonymises what
    it holds about them (subscribers: idempotently). Their key is destroyed, so
    the personal fields of their earlier events load as placeholders."""

    member_id: str = field(metadata=describe("member id of the erased member (nothing else is left of them)"))
