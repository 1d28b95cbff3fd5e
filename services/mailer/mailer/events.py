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
                                        "'invitation', 'petition-confirmation', 'petition-milestone'"))
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
