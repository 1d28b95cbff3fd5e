"""What petitions knows of a member: the keyed hash of their address, until they are erased."""
from __future__ import annotations

from umpnet_kernel.aggregate import Aggregate, applies

from ..events import MemberForgotten, MemberKnown


class KnownMember(Aggregate):
    stream_prefix = "known-member"

    def __init__(self, id: str):
        super().__init__(id)
        self.known = False

    def learn(self, email_key: str) -> None:
        self._record(MemberKnown(member_id=self.id, email_key=email_key))

    def forget(self) -> None:
        self._record(MemberForgotten(member_id=self.id))

    @applies(MemberKnown)
    def _known(self, e: MemberKnown):
        self.known = True

    @applies(MemberForgotten)
    def _forgotten(self, e: MemberForgotten):
        self.known = False
