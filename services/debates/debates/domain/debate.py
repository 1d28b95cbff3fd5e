"""A debate (a workshop): opened by a member, written in until it is closed or its closing date passes.

Scopes: `national` (every member), `local` (a federation: its members write, everyone
reads), `candidates` (candidates and moderators only, reading as well as writing).
"""
from __future__ import annotations

from datetime import datetime

from umpnet_kernel.aggregate import Aggregate, applies
from umpnet_kernel.errors import Conflict

from ..events import DebateClosed, DebateOpened

NATIONAL, LOCAL, CANDIDATES = "national", "local", "candidates"
SCOPES = (NATIONAL, LOCAL, CANDIDATES)
OPEN, CLOSED = "open", "closed"


class Debate(Aggregate):
    stream_prefix = "debate"

    def __init__(self, id: str):
        super().__init__(id)
        self.status: str | None = None
        self.title = ""
        self.scope = NATIONAL
        self.federation_code: str | None = None
        self.closes_at: datetime | None = None
        self.author_id: str | None = None

    @classmethod
    def open(cls, debate_id: str, *, author_id: str, title: str, body: str, scope: str,
             federation_code: str | None, theme: str, closes_at: datetime | None) -> "Debate":
        debate = cls(debate_id)
        debate._record(DebateOpened(debate_id=debate_id, author_id=author_id, title=title, body=body, scope=scope,
                                    federation_code=federation_code, theme=theme, closes_at=closes_at))
        return debate

    def writable(self, now: datetime) -> bool:
        return self.status == OPEN and (self.closes_at is None or self.closes_at > now)

    def require_writable(self, now: datetime) -> None:
        if not self.writable(now):
            raise Conflict("Ce débat est clos : il se lit, on n'y écrit plus.")

    def close(self, synthesis: str, moderator_id: str) -> None:
        if self.status == CLOSED:
            raise Conflict("Ce débat est déjà clos.")
        self._record(DebateClosed(debate_id=self.id, synthesis=synthesis, moderator_id=moderator_id))

    @applies(DebateOpened)
    def _opened(self, e: DebateOpened):
        self.status, self.title, self.scope = OPEN, e.title, e.scope
        self.federation_code, self.closes_at, self.author_id = e.federation_code, e.closes_at, e.author_id

    @applies(DebateClosed)
    def _closed(self, e: DebateClosed):
        self.status = CLOSED
