"""Contacts: two members who asked and accepted to see each other's email.

A contact is its own aggregate, one stream per unordered pair of members
(stream `contact-<id>`, the id derived from the two member ids whoever asks
first): two requests between the same members land in the same stream, so the
store's optimistic concurrency makes "one request per pair" hold by
construction, even when both arrive at once; the one that loses the race is
decided again and finds the other's request.
"""
from __future__ import annotations

import uuid

from umpnet_kernel.aggregate import Aggregate, applies
from umpnet_kernel.errors import Conflict, Forbidden, NotFound

from ..events import ContactAccepted, ContactDeclined, ContactRemoved, ContactRequested

# Fixed forever: contact ids are derived from it (changing it orphans every stream).
_CONTACT_NAMESPACE = uuid.UUID("0c0a7ac7-5e1f-4b7e-9c35-6d2b8f3c11e4")

REQUESTED, ACCEPTED = "requested", "accepted"


def no_contact() -> NotFound:
    """Nothing between the two members: no request either way, no contact."""
    return NotFound("Aucune demande ni aucun contact avec ce membre.")


def contact_id_for(member_id: str, other_id: str) -> str:
    """The pair's id: the same for (a, b) and (b, a)."""
    first, second = sorted((member_id, other_id))
    return str(uuid.uuid5(_CONTACT_NAMESPACE, f"{first}|{second}"))


class Contact(Aggregate):
    stream_prefix = "contact"

    def __init__(self, id: str):
        super().__init__(id)
        self.status: str | None = None  # None: nothing between them (never, or no longer)
        self.requester_id: str | None = None
        self.addressee_id: str | None = None

    @classmethod
    def between(cls, member_id: str, other_id: str) -> "Contact":
        """A pair with no stream yet (uow.get answers None for it)."""
        return cls(contact_id_for(member_id, other_id))

    def status_for(self, member_id: str) -> str | None:
        """What the pair is to `member_id`: "outgoing", "incoming", "accepted", or None."""
        if self.status == ACCEPTED:
            return "accepted"
        if self.status == REQUESTED:
            return "outgoing" if member_id == self.requester_id else "incoming"
        return None

    # -- commands -----------------------------------------------------------
    def request(self, requester_id: str, addressee_id: str, addressee_accepts_requests: bool) -> None:
        """Ask; asking back someone who asked you makes you contacts at once."""
        if self.status == ACCEPTED:
            raise Conflict("Vous êtes déjà en contact avec ce membre.")
        if self.status == REQUESTED:
            if self.requester_id == requester_id:
                raise Conflict("Vous avez déjà envoyé une demande à ce membre.")
            self._record(ContactAccepted(contact_id=self.id, requester_id=self.requester_id,
                                         addressee_id=requester_id))
            return
        if not addressee_accepts_requests:
            raise Forbidden("Ce membre n'accepte pas les demandes de contact.",
                            {"member_id": ["Ce membre n'accepte pas les demandes de contact."]})
        self._record(ContactRequested(contact_id=self.id, requester_id=requester_id, addressee_id=addressee_id))

    def accept(self, by: str) -> None:
        """Only the addressee accepts; accepting an accepted contact changes nothing."""
        if self.status == ACCEPTED:
            return
        if self.status != REQUESTED:
            raise no_contact()
        if by != self.addressee_id:
            raise Forbidden("Seul le membre à qui la demande est adressée peut l'accepter.")
        self._record(ContactAccepted(contact_id=self.id, requester_id=self.requester_id, addressee_id=by))

    def remove(self, by: str) -> None:
        """Decline a request (its addressee), withdraw it (its requester), or end a contact (either)."""
        if self.status is None:
            raise no_contact()
        if self.status == REQUESTED and by == self.addressee_id:
            self._record(ContactDeclined(contact_id=self.id, requester_id=self.requester_id, addressee_id=by))
            return
        other = self.addressee_id if by == self.requester_id else self.requester_id
        self._record(ContactRemoved(contact_id=self.id, removed_by=by, other_id=other))

    # -- state --------------------------------------------------------------
    @applies(ContactRequested)
    def _requested(self, e: ContactRequested):
        self.status, self.requester_id, self.addressee_id = REQUESTED, e.requester_id, e.addressee_id

    @applies(ContactAccepted)
    def _accepted(self, e: ContactAccepted):
        self.status, self.requester_id, self.addressee_id = ACCEPTED, e.requester_id, e.addressee_id

    @applies(ContactDeclined)
    def _declined(self, e: ContactDeclined):
        self.status = None

    @applies(ContactRemoved)
    def _removed(self, e: ContactRemoved):
        self.status = None
