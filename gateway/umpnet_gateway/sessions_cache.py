"""Resolved sessions kept in each gateway process for a few seconds, forgotten at once when they end.

Every authenticated request used to ask the members service who holds its
token (`resolve_session`): one RPC and one members worker per request, most
of the cost of a registration to a meeting (bench/meeting_registration.py).
A member who registers, then looks at the meeting, asks the same question
several times a second; the answer changes only on the events below.

What is kept, per process (a `SharedExtension`: its web server and workers share it):
- the answer of `resolve_session` (member id, roles, federation), keyed by a
  keyed BLAKE2b digest of the token (a random key per process): the token
  itself is never a key, and the digest is not the members store's either;
- for `GATEWAY_SESSION_TTL` seconds at most (3 by default), at most
  `GATEWAY_SESSION_CACHE_SIZE` sessions (least recently used first out);
- only a session that exists: an unknown token is asked each time, so a stream
  of made-up tokens cannot push the real ones out.

When it is forgotten:
- at once in the process that did it: a logout forgets its token, and a
  password reset, an erasure, a role or profile change made through this
  gateway forget every session of the member (auth.py, right after the RPC);
- in every other process, as soon as the members event arrives: they each
  have their own broadcast queue (api/members.py, `members_changed`) for
  `members.SessionEnded` (a logout, a reset closing the other sessions, an
  erasure), `members.RolesChanged`, `members.ProfileUpdated` (a new federation)
  and `members.MemberErased`. The outbox relay publishes them right after the
  commit: in practice milliseconds;
- after the TTL anyway: the bound if an event is lost (a broker outage drops
  the exclusive queues) and for the one thing no event tells, a session
  reaching its expiry (it works at most TTL seconds beyond it).

A resolve that was on its way while anything was forgotten is not kept (the
epoch changed meanwhile): its answer may predate the change. The request that
made it still uses it, as it would have without the cache.

`GATEWAY_SESSION_CACHE=0` turns it off (the plain path only: one RPC per request).
"""
from __future__ import annotations

import hashlib
import secrets
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable

from nameko.extensions import DependencyProvider, SharedExtension

from .settings import setting, switched_on

DEFAULT_TTL = 3.0  # seconds
DEFAULT_SIZE = 20_000  # sessions: ~1 kB each at most

# The members events after which what resolve_session answers for a member may differ.
SESSION_CHANGES = ("members.SessionEnded", "members.RolesChanged", "members.ProfileUpdated", "members.MemberErased")


@dataclass(frozen=True)
class KeptSession:
    actor: dict  # what resolve_session answered; copied out, never handed over
    expires_at: float  # time.monotonic()


class SessionCache(SharedExtension):
    """The resolved sessions of one gateway process."""

    def setup(self):
        config = self.container.config
        self.enabled = switched_on(config, "GATEWAY_SESSION_CACHE")
        self.ttl = float(setting(config, "GATEWAY_SESSION_TTL", str(DEFAULT_TTL)))
        self.max_sessions = int(setting(config, "GATEWAY_SESSION_CACHE_SIZE", str(DEFAULT_SIZE)))
        self._key = secrets.token_bytes(32)  # this process's: its digests mean nothing elsewhere
        self._kept: OrderedDict[bytes, KeptSession] = OrderedDict()
        self._digests_of: dict[str, set[bytes]] = {}  # member id -> the digests kept for them
        self._epoch = 0  # +1 at each forgetting

    @classmethod
    def of(cls, container) -> "SessionCache | None":
        """The cache of this gateway container, if it has one (a unit test's stub gateway has none)."""
        return container.shared_extensions.get(cls) if container is not None else None

    def _digest(self, token: str) -> bytes:
        return hashlib.blake2b(token.encode(), key=self._key, digest_size=32).digest()

    # -- reading -------------------------------------------------------------
    def resolve(self, token: str, plain: Callable[[str], dict | None]) -> dict | None:
        """Who holds `token`: from memory if it was resolved less than TTL ago, else `plain(token)` (the RPC)."""
        if not self.enabled:
            return plain(token)
        digest = self._digest(token)
        kept = self._kept.get(digest)
        if kept is not None:
            if kept.expires_at > time.monotonic():
                self._kept.move_to_end(digest)
                return _copy(kept.actor)
            self._drop(digest)
        epoch, asked_at = self._epoch, time.monotonic()
        actor = plain(token)
        if actor is not None and epoch == self._epoch:
            self._keep(digest, actor, asked_at)
        return actor

    def _keep(self, digest: bytes, actor: dict, asked_at: float) -> None:
        # the TTL counts from the question: a gathered call may wait before members reads the session
        self._drop(digest)
        self._kept[digest] = KeptSession(_copy(actor), asked_at + self.ttl)
        self._digests_of.setdefault(actor["member_id"], set()).add(digest)
        while len(self._kept) > self.max_sessions:
            self._drop(next(iter(self._kept)))

    def _drop(self, digest: bytes) -> None:
        kept = self._kept.pop(digest, None)
        if kept is None:
            return
        member_id = kept.actor["member_id"]
        digests = self._digests_of.get(member_id)
        if digests is not None:
            digests.discard(digest)
            if not digests:
                del self._digests_of[member_id]

    # -- forgetting ------------------------------------------------------------
    def forget_token(self, token: str) -> None:
        self._epoch += 1
        self._drop(self._digest(token))

    def forget_member(self, member_id: str | None) -> None:
        self._epoch += 1
        for digest in list(self._digests_of.get(member_id, ())):
            self._drop(digest)

    def forget_all(self) -> None:
        self._epoch += 1
        self._kept.clear()
        self._digests_of.clear()

    def __len__(self) -> int:
        return len(self._kept)


def _copy(actor: dict) -> dict:
    """A copy a request may change without changing what is kept (the roles are a list)."""
    copied = dict(actor)
    if isinstance(copied.get("roles"), list):
        copied["roles"] = list(copied["roles"])
    return copied


class KeptSessions(DependencyProvider):
    """`self.kept_sessions`: the process's SessionCache, from a gateway worker."""

    cache = SessionCache()

    def get_dependency(self, worker_ctx):
        return self.cache
