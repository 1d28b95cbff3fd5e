"""The petitions service's events: the contract other services subscribe to (docs/events.md).

A petition is its own stream (`petition-<id>`); each signature too
(`signature-<id>`, the id derived from the petition and the signer's
normalised address, so one address signs a petition once by construction).
The signers' personal fields are sealed with the signature's own key
(umpnet_kernel.shredding): destroying it forgets the signer.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from umpnet_kernel.events import DomainEvent, describe


@dataclass(frozen=True)
class PetitionLaunched(DomainEvent, name="petitions.PetitionLaunched", version=1):
    """A petition was written: by an admin (open at once, or a draft), or proposed by a member for review."""

    petition_id: str
    title: str
    body: str
    theme: str
    goal: int
    milestones: tuple[int, ...] = field(metadata=describe("percents of the goal announced when reached"))
    federation_code: str | None = field(metadata=describe("local federation; None: national"))
    author_id: str = field(metadata=describe("member id of who wrote it"))
    status: str = field(metadata=describe("open, draft or proposed"))
    ends_at: datetime | None = None


@dataclass(frozen=True)
class PetitionPublished(DomainEvent, name="petitions.PetitionPublished", version=1):
    """A draft or a member's proposal was opened to signatures by an admin."""

    petition_id: str
    published_by: str
    author_id: str = field(metadata=describe("member id of who wrote it (a proposal's author is credited)"))


@dataclass(frozen=True)
class PetitionClosed(DomainEvent, name="petitions.PetitionClosed", version=1):
    """No more signatures: closed by an admin, or its end date passed."""

    petition_id: str
    closed_by: str | None = field(metadata=describe("member id of the admin; None: its end date"))
    reason: str = ""


@dataclass(frozen=True)
class SignatureRequested(DomainEvent, name="petitions.SignatureRequested", version=1, subject="request_id"):
    """Someone without an account signed: a confirmation email must go (double opt-in).

    `link_nonce` is useless alone: the mailer renders it into the link's token
    with the installation's secret key (umpnet_kernel.links, purpose
    "petition-signature"). Asking again while its link is valid sends the same link again (48 hours from then); after it lapsed, a new one.
    Sealed with the request's own key (`request_id`): a request that lapses
    unconfirmed loses its personal fields alone."""

    signature_id: str
    request_id: str
    petition_id: str
    petition_title: str
    email: str = field(metadata=describe("the signer's address", personal=True))
    first_name: str = field(metadata=describe("the signer's first name", personal=True))
    last_name: str = field(metadata=describe("the signer's last name", personal=True))
    postcode: str = field(metadata=describe("the signer's postcode", personal=True))
    federation_code: str = field(metadata=describe("the postcode's département"))
    contact_consent: bool = field(metadata=describe("agrees to be contacted about this petition later"))
    link_nonce: str = field(metadata=describe("nonce of the link's token (not usable without the secret key)"))
    expires_at: datetime = field(metadata=describe("the link confirms until then"))
    network_key: str = field(default="", metadata=describe("keyed hash of the source network (/24, /48), for bursts"))
    referred_by: str | None = field(default=None, metadata=describe("member id whose share link brought the signer"))


@dataclass(frozen=True)
class SignatureConfirmed(DomainEvent, name="petitions.SignatureConfirmed", version=1):
    """A signature counts: its emailed link was followed, or a member signed in one click."""

    signature_id: str
    petition_id: str
    federation_code: str
    member_id: str | None = field(default=None, metadata=describe("the member who signed; None without account"))
    referred_by: str | None = field(default=None, metadata=describe("member id whose share link brought the signer"))
    contact_consent: bool = False


@dataclass(frozen=True)
class SignatureInvalidated(DomainEvent, name="petitions.SignatureInvalidated", version=1):
    """An admin struck a signature out (fraud, a burst): it no longer counts."""

    signature_id: str
    petition_id: str
    federation_code: str
    reason: str
    invalidated_by: str


@dataclass(frozen=True)
class SignatureLapsed(DomainEvent, name="petitions.SignatureLapsed", version=1):
    """A request never confirmed: its link expired, its personal fields are destroyed
    (the keys of its requests). The address may sign again; subscribers drop what they hold."""

    signature_id: str
    petition_id: str


@dataclass(frozen=True)
class SignerForgotten(DomainEvent, name="petitions.SignerForgotten", version=1):
    """The signer is forgotten (a member erased, whose address signed): the signature
    still counts; its personal fields are gone (its key destroyed). Subscribers drop
    what they hold of that signer (the mailer: a follower)."""

    signature_id: str
    petition_id: str


@dataclass(frozen=True)
class MilestoneReached(DomainEvent, name="petitions.MilestoneReached", version=1):
    """The confirmed signatures reached a milestone (a percent of the goal)."""

    petition_id: str
    petition_title: str
    milestone: int = field(metadata=describe("percent of the goal"))
    signature_count: int
    goal: int


@dataclass(frozen=True)
class MemberKnown(DomainEvent, name="petitions.MemberKnown", public=False):
    """What petitions keeps of a member (from members.MemberRegistered): the
    keyed hash of their address, so a one-click signature and a signature by
    the form count once together; never the address itself."""

    member_id: str
    email_key: str = field(metadata=describe("keyed hash of the member's address", personal=True))


@dataclass(frozen=True)
class MemberForgotten(DomainEvent, name="petitions.MemberForgotten", public=False):
    """The member was erased (members.MemberErased): their hash goes, their signatures stay counted, anonymous."""

    member_id: str
