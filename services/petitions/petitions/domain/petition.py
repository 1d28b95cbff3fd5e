"""A petition: written, opened to signatures, closed; its milestones reached once each.

Statuses: `proposed` (by a member, waiting for an admin), `draft` (an admin's,
not yet open), `open`, `closed`. A petition whose end date has passed takes
no more signatures even before its `PetitionClosed` is recorded.
"""
from __future__ import annotations

from datetime import datetime

from umpnet_kernel.aggregate import Aggregate, applies
from umpnet_kernel.errors import Conflict

from ..events import MilestoneReached, PetitionClosed, PetitionLaunched, PetitionPublished

PROPOSED, DRAFT, OPEN, CLOSED = "proposed", "draft", "open", "closed"
STATUSES = (PROPOSED, DRAFT, OPEN, CLOSED)


class Petition(Aggregate):
    stream_prefix = "petition"

    def __init__(self, id: str):
        super().__init__(id)
        self.status: str | None = None
        self.title = ""
        self.goal = 0
        self.milestones: tuple[int, ...] = ()
        self.reached: set[int] = set()
        self.federation_code: str | None = None
        self.author_id: str | None = None
        self.ends_at: datetime | None = None

    @classmethod
    def launch(cls, petition_id: str, *, title: str, body: str, theme: str, goal: int, milestones: tuple[int, ...],
               federation_code: str | None, author_id: str, status: str, ends_at: datetime | None) -> "Petition":
        petition = cls(petition_id)
        petition._record(PetitionLaunched(
            petition_id=petition_id, title=title, body=body, theme=theme, goal=goal, milestones=milestones,
            federation_code=federation_code, author_id=author_id, status=status, ends_at=ends_at))
        return petition

    def takes_signatures(self, now: datetime) -> bool:
        return self.status == OPEN and (self.ends_at is None or self.ends_at > now)

    def publish(self, by: str) -> None:
        if self.status not in (PROPOSED, DRAFT):
            raise Conflict("Cette pétition n'est pas en attente de publication.")
        self._record(PetitionPublished(petition_id=self.id, published_by=by, author_id=self.author_id))

    def close(self, by: str | None, reason: str = "") -> None:
        if self.status == CLOSED:
            raise Conflict("Cette pétition est déjà close.")
        self._record(PetitionClosed(petition_id=self.id, closed_by=by, reason=reason))

    def count_reached(self, count: int) -> None:
        """Record each milestone that `count` confirmed signatures reach for the first time."""
        if self.goal <= 0:
            return
        for milestone in sorted(self.milestones):
            if milestone not in self.reached and count * 100 >= milestone * self.goal:
                self._record(MilestoneReached(petition_id=self.id, petition_title=self.title, milestone=milestone,
                                              signature_count=count, goal=self.goal))

    @applies(PetitionLaunched)
    def _launched(self, e: PetitionLaunched):
        self.status, self.title, self.goal = e.status, e.title, e.goal
        self.milestones, self.federation_code, self.author_id, self.ends_at = (
            tuple(e.milestones), e.federation_code, e.author_id, e.ends_at)

    @applies(PetitionPublished)
    def _published(self, e: PetitionPublished):
        self.status = OPEN

    @applies(PetitionClosed)
    def _closed(self, e: PetitionClosed):
        self.status = CLOSED

    @applies(MilestoneReached)
    def _reached(self, e: MilestoneReached):
        self.reached.add(e.milestone)
