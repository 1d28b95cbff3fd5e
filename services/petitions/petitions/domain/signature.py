"""A signature: one per petition and normalised address, by construction.

Its id is derived from the petition and the keyed hash of the address
(`signature_id_for`): two requests with one address land on one stream, and
the store's optimistic concurrency lets only one of two simultaneous first
requests through. Without an account it is `pending` until its emailed link
is followed (double opt-in), then `confirmed`; a member signs `confirmed` at
once. An admin may strike a confirmed signature out: `invalidated`.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from umpnet_kernel.aggregate import Aggregate, applies

from ..events import SignatureConfirmed, SignatureInvalidated, SignatureLapsed, SignatureRequested, SignerForgotten

PENDING, CONFIRMED, INVALIDATED, LAPSED = "pending", "confirmed", "invalidated", "lapsed"

# Fixed forever: every signature id derives from it.
_SIGNATURE_NAMESPACE = uuid.UUID("0c5e8f6a-3b7d-4f0e-9a51-7d2c4b8e1f36")


def signature_id_for(petition_id: str, email_key: str) -> str:
    """The one signature of this address (its keyed hash) on this petition."""
    return str(uuid.uuid5(_SIGNATURE_NAMESPACE, f"{petition_id}:{email_key}"))


@dataclass(frozen=True)
class Signer:
    email: str
    first_name: str
    last_name: str
    postcode: str
    federation_code: str
    contact_consent: bool = False


class Signature(Aggregate):
    stream_prefix = "signature"

    def __init__(self, id: str):
        super().__init__(id)
        self.status: str | None = None
        self.petition_id: str | None = None
        self.federation_code = ""
        self.link_nonce: str | None = None
        self.expires_at: datetime | None = None
        self.contact_consent = False
        self.referred_by: str | None = None
        self.request_ids: list[str] = []  # each request's personal fields are sealed with its own key

    def request(self, petition_id: str, petition_title: str, signer: Signer, link_nonce: str, expires_at: datetime,
                network_key: str, referred_by: str | None) -> bool:
        """Ask for a confirmation (again while pending: `link_to_send`); True if an email is to go.
        A confirmed or struck-out signature asks nothing: the caller's answer is the same."""
        if self.status not in (None, PENDING, LAPSED):
            return False
        self._record(SignatureRequested(
            signature_id=self.id, request_id=str(uuid.uuid4()), petition_id=petition_id, petition_title=petition_title, email=signer.email,
            first_name=signer.first_name, last_name=signer.last_name, postcode=signer.postcode,
            federation_code=signer.federation_code, contact_consent=signer.contact_consent, link_nonce=link_nonce,
            expires_at=expires_at, network_key=network_key, referred_by=referred_by))
        return True

    def link_to_send(self, now: datetime, new_nonce) -> str:
        """The nonce of the link a request sends: a pending request's own while it is valid (the
        same address asked again: both emails' links work, whichever is opened), else a new one."""
        return self.link_nonce if self._link_valid(now) else new_nonce()

    def _link_valid(self, now: datetime) -> bool:
        """A pending request whose link has not expired."""
        return self.status == PENDING and self.expires_at is not None and self.expires_at > now

    def confirmable_with(self, nonce: str, now: datetime) -> bool:
        """The link of the latest request, followed in time, and only once."""
        return self._link_valid(now) and self.link_nonce == nonce

    def confirm(self) -> None:
        self._record(SignatureConfirmed(
            signature_id=self.id, petition_id=self.petition_id, federation_code=self.federation_code,
            referred_by=self.referred_by, contact_consent=self.contact_consent))

    def sign_as_member(self, petition_id: str, member_id: str, federation_code: str,
                       referred_by: str | None = None) -> bool:
        """A member's one click: counted at once, in the member's federation (a
        pending request by the form with the same address too); False if it already counted."""
        if self.status in (CONFIRMED, INVALIDATED):
            return False
        self._record(SignatureConfirmed(
            signature_id=self.id, petition_id=petition_id, member_id=member_id, federation_code=federation_code,
            referred_by=self.referred_by or referred_by, contact_consent=self.contact_consent))
        return True

    def invalidate(self, reason: str, by: str) -> bool:
        if self.status != CONFIRMED:
            return False
        self._record(SignatureInvalidated(signature_id=self.id, petition_id=self.petition_id,
                                          federation_code=self.federation_code, reason=reason, invalidated_by=by))
        return True

    def forget_signer(self) -> list[str]:
        """Their personal fields go; the count stays. Returns the keys to destroy (its requests')."""
        self._record(SignerForgotten(signature_id=self.id, petition_id=self.petition_id))
        return list(self.request_ids)

    def lapse(self, now: datetime) -> list[str]:
        """A request whose link expired unconfirmed: its personal fields go. Returns the keys
        to destroy; [] if it is not lapsing (confirmed meanwhile, or its link still valid)."""
        if self.status != PENDING or self._link_valid(now):
            return []
        self._record(SignatureLapsed(signature_id=self.id, petition_id=self.petition_id))
        return list(self.request_ids)

    @applies(SignatureLapsed)
    def _lapsed(self, e: SignatureLapsed):
        self.status, self.link_nonce = LAPSED, None

    @applies(SignerForgotten)
    def _forgotten(self, e: SignerForgotten):
        self.contact_consent = False

    @applies(SignatureRequested)
    def _requested(self, e: SignatureRequested):
        self.status, self.petition_id, self.federation_code = PENDING, e.petition_id, e.federation_code
        self.link_nonce, self.expires_at = e.link_nonce, e.expires_at
        self.contact_consent, self.referred_by = e.contact_consent, e.referred_by
        self.request_ids.append(e.request_id)

    @applies(SignatureConfirmed)
    def _confirmed(self, e: SignatureConfirmed):
        self.status, self.petition_id, self.federation_code = CONFIRMED, e.petition_id, e.federation_code
        self.link_nonce = None

    @applies(SignatureInvalidated)
    def _invalidated(self, e: SignatureInvalidated):
        self.status = INVALIDATED
