"""Who is calling: a bearer token (API) or the session cookie (site), resolved by the members service.

Two paths, the same answer:
- the plain path asks members (`resolve_session`) once per request;
- the fast path (sessions_cache.py) answers from this process's memory a
  session resolved less than a few seconds ago, and asks members for the others
  gathered (`resolve_sessions`, batching.py): a burst of 500 members each
  bringing a new session is ~20 calls, not 500. It forgets a session at once
  when this gateway ends or changes it (`session_closed`, `member_changed`
  below, called right after the RPC that did it) and when another process did
  (members events); the TTL bounds what a lost event could leave.
"""
from __future__ import annotations

from umpnet_kernel.errors import Unauthorized

from members import limits

from .batching import Gatherer
from .sessions_cache import SessionCache

SESSION_COOKIE = "umpnet_session"


def bearer_token(request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def _kept_sessions(services) -> SessionCache | None:
    return SessionCache.of(getattr(services, "container", None))


def resolve_plainly(services, token: str) -> dict | None:
    """The plain path: members says who holds the token."""
    return services.call("members", "resolve_session", token)


# The sessions not kept, asked with those of the other requests of the same ~2 ms.
RESOLVING = Gatherer("members", "resolve_sessions", size=100, wait=0.002)


def resolve_gathered(services, token: str) -> dict | None:
    return RESOLVING.call(services, token)


def actor_of(services, request, token: str | None) -> dict | None:
    """The member behind `token` (None if none), asked once per request at most."""
    if not token or len(token) > limits.SESSION_TOKEN_MAX:
        return None
    memo = request.environ.setdefault("umpnet.actors", {})
    if token not in memo:
        kept = _kept_sessions(services)
        if kept is not None and kept.enabled:
            memo[token] = kept.resolve(token, lambda token: resolve_gathered(services, token))
        else:
            memo[token] = resolve_plainly(services, token)
    actor = memo[token]
    if actor:
        # Sent with every call of this request (nameko context data): the
        # services decide who may do what from them (umpnet_kernel CallContext).
        services.context["actor_id"] = actor["member_id"]
        services.context["actor_roles"] = ",".join(actor.get("roles") or ())
        if actor.get("federation_code"):
            services.context["actor_federation"] = actor["federation_code"]
    return actor


def require_actor(services, request) -> tuple[dict, str]:
    """(the actor, their token) for an API request, or 401."""
    token = bearer_token(request)
    actor = actor_of(services, request, token)
    if actor is None:
        raise Unauthorized("Connectez-vous d'abord (en-tête Authorization: Bearer <jeton>).")
    return actor, token


# -- what this gateway changed: forgotten here at once (other processes learn it from the events)
def session_closed(services, request, token: str | None) -> None:
    """After `close_session`: the token stops working for the rest of this request too."""
    if not token:
        return
    request.environ.get("umpnet.actors", {}).pop(token, None)
    kept = _kept_sessions(services)
    if kept is not None:
        kept.forget_token(token)


def member_changed(services, member_id: str | None) -> None:
    """After a password reset (the other sessions closed), an erasure, a role or profile change."""
    kept = _kept_sessions(services)
    if kept is not None and member_id:
        kept.forget_member(member_id)
