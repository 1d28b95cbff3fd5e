"""The debates use cases' commands: one frozen dataclass per use case, read strictly from the
RPC payload (umpnet_kernel.payloads). Values are checked by the use cases."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class OpenDebate:
    title: str
    body: str
    scope: str
    theme: str
    federation_code: str | None = None  # a local debate's; default: the author's own federation
    closes_at: str | None = None  # ISO 8601 with a zone


@dataclass(frozen=True)
class PostContribution:
    debate_id: str
    body: str
    parent_id: str | None = None


@dataclass(frozen=True)
class EditContribution:
    contribution_id: str
    body: str


@dataclass(frozen=True)
class Vote:
    contribution_id: str
    value: int  # 1, -1, or 0 to withdraw


@dataclass(frozen=True)
class Report:
    contribution_id: str
    reason: str


@dataclass(frozen=True)
class Moderate:
    """Hide or restore a contribution, with the reason its author sees."""

    contribution_id: str
    reason: str


@dataclass(frozen=True)
class Suspend:
    member_id: str
    until: str  # ISO 8601 with a zone
    reason: str


@dataclass(frozen=True)
class CloseDebate:
    debate_id: str
    synthesis: str


@dataclass(frozen=True)
class ChooseReplyNotifications:
    mode: str  # digest or each
