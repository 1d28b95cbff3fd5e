"""Who is calling: a bearer token (API) or the session cookie (site), resolved by the members service.

Resolutions are cached for a few seconds per gateway process so that a page
making several calls asks the members service once; logging out evicts the
token here at once (another gateway process may honour it for up to TTL seconds).
"""
from __future__ import annotations

import hashlib
import time

from umpnet_kernel.errors import Unauthorized

SESSION_COOKIE = "umpnet_session"
CACHE_TTL = 5.0


def bearer_token(request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


class SessionCache:
    def __init__(self, ttl: float = CACHE_TTL, max_entries: int = 50_000):
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, dict | None]] = {}

    @staticmethod
    def _key(token: str) -> str:
        return hashlib.sha256(token.encode()).hexdigest()

    def actor(self, services, token: str | None) -> dict | None:
        if not token:
            return None
        key, now = self._key(token), time.monotonic()
        cached = self._entries.get(key)
        if cached and cached[0] > now:
            return cached[1]
        actor = services.call("members", "resolve_session", token)
        if len(self._entries) >= self.max_entries:
            self._entries.clear()  # crude, bounded: a cache, never a source of truth
        self._entries[key] = (now + self.ttl, actor)
        return actor

    def forget(self, token: str) -> None:
        self._entries.pop(self._key(token), None)


sessions = SessionCache()


def require_actor(services, request) -> tuple[dict, str]:
    """(the actor, their token) for an API request, or 401."""
    token = bearer_token(request)
    actor = sessions.actor(services, token)
    if actor is None:
        raise Unauthorized("Connectez-vous d'abord (en-tête Authorization: Bearer <jeton>).")
    services.context["actor_id"] = actor["member_id"]
    return actor, token
