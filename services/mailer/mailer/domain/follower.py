"""A petition's follower: a signer who agreed to hear from the petition (its
milestones), from their signature's request to its confirmation.

The petitions events come on separate queues, possibly retried, so in any
order: a confirmation may come before the address, an invalidation before
either. Dropped is final: nothing brings a dropped follower back.
"""
from __future__ import annotations

from umpnet_kernel.aggregate import Aggregate, applies

from ..events import FollowerAddressed, FollowerConfirmed, FollowerDropped


class PetitionFollower(Aggregate):
    stream_prefix = "follower"  # the id is the signature's

    def __init__(self, id: str):
        super().__init__(id)
        self.addressed = False
        self.confirmed = False
        self.dropped = False

    @property
    def following(self) -> bool:
        return self.addressed and self.confirmed and not self.dropped

    def address(self, petition_id: str, email: str, first_name: str) -> None:
        """A consenting signature request: the address to write to (the first one given)."""
        if not (self.dropped or self.addressed):
            self._record(FollowerAddressed(signature_id=self.id, petition_id=petition_id, email=email,
                                           first_name=first_name))

    def confirm(self, petition_id: str, contact_consent: bool) -> bool:
        """The signature is confirmed; True when what the mailer held of the signer must go
        (confirmed without consent: dropped)."""
        if self.dropped or self.confirmed:
            return False
        if contact_consent:
            self._record(FollowerConfirmed(signature_id=self.id, petition_id=petition_id))
            return False
        if self.version or self.pending:  # known here: dropped, and its address with it
            self._record(FollowerDropped(signature_id=self.id, petition_id=petition_id, reason="no-consent"))
            return True
        return False  # never a follower: nothing to keep, nothing recorded

    def invalidate(self, petition_id: str, reason: str = "invalidated") -> bool:
        """The signature is invalidated, or its signer forgotten (`reason` "forgotten"):
        dropped (recorded even if nothing came before, so a late request cannot
        make it a follower). True: its key must go."""
        if self.dropped:
            return False
        self._record(FollowerDropped(signature_id=self.id, petition_id=petition_id, reason=reason))
        return True

    @applies(FollowerAddressed)
    def _addressed(self, e):
        self.addressed = True

    @applies(FollowerConfirmed)
    def _confirmed(self, e):
        self.confirmed = True

    @applies(FollowerDropped)
    def _dropped(self, e):
        self.dropped = True
