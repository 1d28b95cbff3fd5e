"""The petitions use cases' commands: one frozen dataclass per use case, read strictly
from the RPC payload (umpnet_kernel.payloads). Values are checked by the use cases."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class LaunchPetition:
    """An admin's petition (open at once unless `draft`), or a member's proposal (`propose`)."""

    title: str
    body: str
    theme: str
    goal: int
    ends_at: str | None = None  # ISO 8601 with a zone
    federation_code: str | None = None  # a national admin's local petition; a federation admin's is always theirs
    milestones: tuple[int, ...] | None = None
    draft: bool = False


@dataclass(frozen=True)
class Sign:
    """Signing without an account: confirmed by the emailed link."""

    petition_id: str
    email: str
    first_name: str
    last_name: str
    postcode: str
    contact_consent: bool = False
    ref: str | None = None  # a member's share token (`share_link`)


@dataclass(frozen=True)
class SignAsMember:
    petition_id: str
    ref: str | None = None


@dataclass(frozen=True)
class ConfirmSignature:
    token: str


@dataclass(frozen=True)
class InvalidateSignatures:
    """One signature (`signature_id`) or every confirmed one of a burst's network (`network`)."""

    petition_id: str
    reason: str
    signature_id: str | None = None
    network: str | None = None


@dataclass(frozen=True)
class ClosePetition:
    petition_id: str
    reason: str = ""
