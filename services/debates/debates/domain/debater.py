"""What debates knows of a member: their display name and sign-up time (from the members
events), a suspension from debating, and how they want to hear of replies."""
from __future__ import annotations

from datetime import datetime

from umpnet_kernel.aggregate import Aggregate, applies

from ..events import DebaterForgotten, DebaterKnown, MemberSuspended, ReplyNotificationsChosen

DIGEST, EACH = "digest", "each"
MODES = (DIGEST, EACH)


class Debater(Aggregate):
    stream_prefix = "debater"

    def __init__(self, id: str):
        super().__init__(id)
        self.display_name = ""
        self.registered_at: datetime | None = None
        self.federation_code: str | None = None
        self.member_version = 0  # of the members event the name came from: an older one changes nothing
        self.suspended_until: datetime | None = None
        self.mode = DIGEST
        self.forgotten = False

    def learn(self, display_name: str, registered_at: datetime | None, federation_code: str | None,
              member_version: int = 0) -> None:
        """What a members event says of the member. Their events come on several queues, so
        out of order: a profile (names given) may arrive before the sign-up (no name yet);
        the name and federation of an older event than the one known are not taken."""
        if self.forgotten:
            return  # a late copy of a sign-up after the erasure brings nothing back
        registered_at = registered_at or self.registered_at
        if member_version and member_version < self.member_version:
            display_name, federation_code, member_version = (
                self.display_name, self.federation_code, self.member_version)
        if (display_name, registered_at, federation_code) != (self.display_name, self.registered_at,
                                                              self.federation_code):
            self._record(DebaterKnown(member_id=self.id, display_name=display_name, registered_at=registered_at,
                                      federation_code=federation_code,
                                      member_version=max(member_version, self.member_version)))

    def suspend(self, until: datetime, moderator_id: str, reason: str) -> None:
        self._record(MemberSuspended(member_id=self.id, until=until, moderator_id=moderator_id, reason=reason))

    def suspended(self, now: datetime) -> bool:
        return self.suspended_until is not None and self.suspended_until > now

    def choose(self, mode: str) -> None:
        if mode != self.mode or not self.version:
            self._record(ReplyNotificationsChosen(member_id=self.id, mode=mode))

    def forget(self) -> None:
        if not self.forgotten:
            self._record(DebaterForgotten(member_id=self.id))

    @applies(DebaterKnown)
    def _known(self, e: DebaterKnown):
        self.display_name, self.registered_at, self.federation_code = (
            e.display_name, e.registered_at, e.federation_code)
        self.member_version = e.member_version

    @applies(MemberSuspended)
    def _suspended(self, e: MemberSuspended):
        self.suspended_until = e.until

    @applies(ReplyNotificationsChosen)
    def _chose(self, e: ReplyNotificationsChosen):
        self.mode = e.mode

    @applies(DebaterForgotten)
    def _forgotten(self, e: DebaterForgotten):
        self.forgotten, self.display_name = True, ""
