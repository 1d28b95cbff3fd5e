"""What both parts of the events service (meetings, trainings) ask first of a caller."""
from __future__ import annotations

from umpnet_kernel.errors import Unauthorized
from umpnet_kernel.events import Context

SIGN_IN_FIRST = "Connectez-vous d'abord."


def require_member(context: Context) -> str:
    """The signed-in caller's member id; `Unauthorized` for an anonymous call."""
    if not context.actor_id:
        raise Unauthorized(SIGN_IN_FIRST)
    return context.actor_id
