"""Who is calling: a bearer token (API) or the session cookie (site), resolved by the members service.

Resolved on every request, remembered only for the rest of that request: a
cache across requests let a closed session or a revoked role keep working for
seconds, and for longer on another gateway process (issue 6, item 14).
"""
from __future__ import annotations

from umpnet_kernel.errors import Unauthorized

from members import limits

SESSION_COOKIE = "umpnet_session"


def bearer_token(request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return token.strip()
    return None


def actor_of(services, request, token: str | None) -> dict | None:
    """The member behind `token` (None if none), asked once per request."""
    if not token or len(token) > limits.SESSION_TOKEN_MAX:
        return None
    memo = request.environ.setdefault("umpnet.actors", {})
    if token not in memo:
        memo[token] = services.call("members", "resolve_session", token)
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
