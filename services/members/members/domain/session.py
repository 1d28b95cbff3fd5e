"""Login sessions: each its own short stream, keyed by a random id."""
from __future__ import annotations

from datetime import datetime

from umpnet_kernel.aggregate import Aggregate, applies

from ..events import SessionClosed, SessionEnded, SessionOpened


class Session(Aggregate):
    stream_prefix = "session"

    def __init__(self, id: str):
        super().__init__(id)
        self.open = False
        self.member_id: str | None = None
        self.token_hash: str | None = None

    @classmethod
    def start(cls, session_id: str, member_id: str, token_hash: str, expires_at: datetime) -> "Session":
        session = cls(session_id)
        session._record(
            SessionOpened(session_id=session_id, member_id=member_id, token_hash=token_hash, expires_at=expires_at)
        )
        return session

    def close(self) -> None:
        if self.open:
            self._record(SessionClosed(session_id=self.id, member_id=self.member_id, token_hash=self.token_hash))
            # Public, for the gateways that keep resolved sessions (SessionClosed keeps the digest in).
            self._record(SessionEnded(session_id=self.id, member_id=self.member_id))

    @applies(SessionOpened)
    def _opened(self, e: SessionOpened):
        self.open, self.member_id, self.token_hash = True, e.member_id, e.token_hash

    @applies(SessionClosed)
    def _closed(self, e: SessionClosed):
        self.open = False

    @applies(SessionEnded)
    def _ended(self, e: SessionEnded):
        pass  # SessionClosed said it all
