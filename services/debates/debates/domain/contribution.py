"""A contribution, a vote and a report: each its own stream.

A vote's and a report's ids are derived from the contribution and the member
(uuid5), so "one per member" holds by the store's optimistic concurrency.
"""
from __future__ import annotations

import uuid
from datetime import datetime

from umpnet_kernel.aggregate import Aggregate, applies
from umpnet_kernel.errors import Conflict, Forbidden

from ..events import (
    ContributionEdited, ContributionHidden, ContributionPosted, ContributionReported, ContributionRestored,
    SupportGiven,
)
from ..limits import EDIT_WINDOW

_VOTES = uuid.UUID("6a0c1d1e-3f6b-4b8e-9f47-2b1f3c5d7e90")
_REPORTS = uuid.UUID("9d2e4f60-1a3b-4c5d-8e7f-0a1b2c3d4e5f")


def vote_id_for(contribution_id: str, member_id: str) -> str:
    return str(uuid.uuid5(_VOTES, f"{contribution_id}:{member_id}"))


def report_id_for(contribution_id: str, member_id: str) -> str:
    return str(uuid.uuid5(_REPORTS, f"{contribution_id}:{member_id}"))


def editable_until(posted_at: datetime) -> datetime:
    """The last moment its author may rewrite a contribution posted at `posted_at`."""
    return posted_at + EDIT_WINDOW


class Contribution(Aggregate):
    stream_prefix = "contribution"

    def __init__(self, id: str):
        super().__init__(id)
        self.debate_id = ""
        self.author_id = ""
        self.hidden = False
        self.body = ""  # the text as last written (Markdown): what the author's edit form starts from
        self.posted_at: datetime | None = None

    @classmethod
    def post(cls, contribution_id: str, *, debate_id: str, debate_title: str, parent: "Contribution | None",
             author_id: str, body: str, now: datetime) -> "Contribution":
        contribution = cls(contribution_id)
        contribution._record(ContributionPosted(
            contribution_id=contribution_id, debate_id=debate_id, debate_title=debate_title,
            parent_id=parent.id if parent else None, parent_author_id=parent.author_id if parent else None,
            author_id=author_id, body=body))
        contribution.posted_at = now
        return contribution

    def require_editable(self, by: str, now: datetime, posted_at: datetime) -> None:
        """Refuse unless `by` may rewrite it now: its author, not hidden, within the window."""
        if by != self.author_id:
            raise Forbidden("Seul son auteur modifie une contribution.")
        if self.hidden:
            raise Conflict("Cette contribution est masquée : elle ne se modifie plus.")
        if now > editable_until(posted_at):
            raise Conflict("Une contribution se modifie dans les 15 minutes qui suivent sa publication.")

    def edit(self, by: str, body: str, now: datetime, posted_at: datetime) -> None:
        self.require_editable(by, now, posted_at)
        self._record(ContributionEdited(contribution_id=self.id, debate_id=self.debate_id, author_id=self.author_id,
                                        body=body))

    def hide(self, moderator_id: str, reason: str) -> None:
        if self.hidden:
            raise Conflict("Cette contribution est déjà masquée.")
        self._record(ContributionHidden(contribution_id=self.id, debate_id=self.debate_id, author_id=self.author_id,
                                        moderator_id=moderator_id, reason=reason))

    def restore(self, moderator_id: str, reason: str) -> None:
        if not self.hidden:
            raise Conflict("Cette contribution n'est pas masquée.")
        self._record(ContributionRestored(contribution_id=self.id, debate_id=self.debate_id,
                                          author_id=self.author_id, moderator_id=moderator_id, reason=reason))

    @applies(ContributionPosted)
    def _posted(self, e: ContributionPosted):
        self.debate_id, self.author_id, self.body = e.debate_id, e.author_id, e.body

    @applies(ContributionEdited)
    def _edited(self, e: ContributionEdited):
        self.body = e.body

    @applies(ContributionHidden)
    def _hidden(self, e: ContributionHidden):
        self.hidden = True

    @applies(ContributionRestored)
    def _restored(self, e: ContributionRestored):
        self.hidden = False


class Vote(Aggregate):
    """One member's vote on one contribution: +1, -1 or 0 (none)."""

    stream_prefix = "vote"

    def __init__(self, id: str):
        super().__init__(id)
        self.value = 0

    def give(self, contribution: Contribution, member_id: str, value: int) -> bool:
        """Record the vote if it changes anything (a second identical POST records nothing)."""
        if member_id == contribution.author_id:
            raise Forbidden("On ne vote pas pour sa propre contribution.")
        if value == self.value:
            return False
        self._record(SupportGiven(contribution_id=contribution.id, member_id=member_id,
                                  author_id=contribution.author_id, value=value, previous=self.value))
        return True

    @applies(SupportGiven)
    def _given(self, e: SupportGiven):
        self.value = e.value


class Report(Aggregate):
    stream_prefix = "report"

    def __init__(self, id: str):
        super().__init__(id)
        self.made = False

    def make(self, contribution: Contribution, member_id: str, reason: str) -> None:
        if self.made:
            raise Conflict("Vous avez déjà signalé cette contribution.")
        self._record(ContributionReported(contribution_id=contribution.id, debate_id=contribution.debate_id,
                                          member_id=member_id, reason=reason))

    @applies(ContributionReported)
    def _reported(self, e: ContributionReported):
        self.made = True
