"""The debates service's events: the contract other services subscribe to (docs/events.md).

Streams: a debate (`debate-<id>`), each contribution (`contribution-<id>`), each
vote (`vote-<uuid5(contribution, member)>`: one per member by construction),
each report (`report-<uuid5(contribution, member)>`), and each debater
(`debater-<member id>`: what the service knows of a member, their suspension
and their choice of reply notifications). A contribution's body is personal,
sealed with its author's key (umpnet_kernel.shredding): the author's erasure
destroys the key and every body they wrote with it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from umpnet_kernel.events import DomainEvent, describe


@dataclass(frozen=True)
class DebateOpened(DomainEvent, name="debates.DebateOpened", version=1, subject="author_id"):
    """A member opened a debate (a workshop): national, local to a federation, or for candidates.
    Its opening text is its author's, sealed as a contribution's body is; the title stays at
    their erasure, as the heading the others' contributions answer (docs/privacy.md)."""

    debate_id: str
    author_id: str = field(metadata=describe("member id of who opened it"))
    title: str
    body: str = field(metadata=describe("the opening text (Markdown)", personal=True))
    scope: str = field(metadata=describe("national, local or candidates"))
    federation_code: str | None = field(metadata=describe("a local debate's federation; None otherwise"))
    theme: str = field(metadata=describe("a theme slug (umpnet_geo.themes)"))
    closes_at: datetime | None = field(default=None, metadata=describe("read-only from then; None: until closed"))


@dataclass(frozen=True)
class DebateClosed(DomainEvent, name="debates.DebateClosed", version=1):
    """A moderator closed the debate with a synthesis: it is read-only."""

    debate_id: str
    synthesis: str
    moderator_id: str


@dataclass(frozen=True)
class ContributionPosted(DomainEvent, name="debates.ContributionPosted", version=1, subject="author_id"):
    """A member wrote in a debate: at its top level, or in reply to another contribution."""

    contribution_id: str
    debate_id: str
    debate_title: str
    parent_id: str | None = field(metadata=describe("the contribution replied to; None: top level"))
    parent_author_id: str | None = field(metadata=describe("its author (reply notifications); None: top level"))
    author_id: str = field(metadata=describe("member id of the author"))
    body: str = field(metadata=describe("the text as written (Markdown)", personal=True))


@dataclass(frozen=True)
class ContributionEdited(DomainEvent, name="debates.ContributionEdited", version=1, subject="author_id"):
    """The author rewrote their contribution (within 15 minutes): the earlier text stays in its stream."""

    contribution_id: str
    debate_id: str
    author_id: str
    body: str = field(metadata=describe("the new text (Markdown)", personal=True))


@dataclass(frozen=True)
class SupportGiven(DomainEvent, name="debates.SupportGiven", version=1):
    """A member's vote on a contribution as it now stands: +1, -1, or 0 withdrawn."""

    contribution_id: str
    member_id: str = field(metadata=describe("who voted"))
    author_id: str = field(metadata=describe("the contribution's author"))
    value: int = field(metadata=describe("+1, -1, or 0 (withdrawn)"))
    previous: int = field(default=0, metadata=describe("the member's vote before this one"))


@dataclass(frozen=True)
class ContributionReported(DomainEvent, name="debates.ContributionReported", version=1):
    """A member reported a contribution to the moderators (once per member and contribution)."""

    contribution_id: str
    debate_id: str
    member_id: str = field(metadata=describe("who reported it"))
    reason: str = field(metadata=describe("why, in their words", personal=True))


@dataclass(frozen=True)
class ContributionHidden(DomainEvent, name="debates.ContributionHidden", version=1):
    """A moderator hid a contribution: others see it hidden; its author and moderators see it and the reason."""

    contribution_id: str
    debate_id: str
    author_id: str
    moderator_id: str
    reason: str


@dataclass(frozen=True)
class ContributionRestored(DomainEvent, name="debates.ContributionRestored", version=1):
    """A moderator showed a hidden contribution again."""

    contribution_id: str
    debate_id: str
    author_id: str
    moderator_id: str
    reason: str


@dataclass(frozen=True)
class MemberSuspended(DomainEvent, name="debates.MemberSuspended", version=1):
    """A moderator suspended a member from debating until a moment (they read, they do not post)."""

    member_id: str
    until: datetime
    moderator_id: str
    reason: str


@dataclass(frozen=True)
class ReplyNotificationsChosen(DomainEvent, name="debates.ReplyNotificationsChosen", version=1):
    """How a member wants to hear of replies to their contributions (default for one who never chose: digest)."""

    member_id: str
    mode: str = field(metadata=describe("digest (daily) or each"))


@dataclass(frozen=True)
class DebaterKnown(DomainEvent, name="debates.DebaterKnown", public=False):
    """What debates keeps of a member, from members.MemberRegistered and ProfileUpdated:
    the name others see and when they joined (new accounts post less often)."""

    member_id: str
    display_name: str = field(metadata=describe("first name and initial", personal=True))
    registered_at: datetime | None = None
    federation_code: str | None = None
    member_version: int = field(default=0, metadata=describe("the members stream's version the name is of"))


@dataclass(frozen=True)
class DebaterForgotten(DomainEvent, name="debates.DebaterForgotten", public=False):
    """The member was erased (members.MemberErased): their name and their bodies are gone here."""

    member_id: str
