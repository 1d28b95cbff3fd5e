"""A log-in provider's account (Facebook) linked to a member: one stream per
provider account (`external-identity-<id>`, the id derived from the provider
and its account id), so one account links to one member only, even when two
first logins race."""
from __future__ import annotations

import uuid

from umpnet_kernel.aggregate import Aggregate, applies

from ..events import ExternalIdentityLinked

# Fixed forever: identity ids derive from it.
_IDENTITY_NAMESPACE = uuid.UUID("e3b1c0de-7f52-4c1a-b7a9-2d9f04c6a8b1")


def identity_id_for(provider: str, subject: str) -> str:
    return str(uuid.uuid5(_IDENTITY_NAMESPACE, f"{provider}|{subject}"))


class ExternalIdentity(Aggregate):
    stream_prefix = "external-identity"

    def __init__(self, id: str):
        super().__init__(id)
        self.member_id: str | None = None

    @classmethod
    def link(cls, provider: str, subject: str, member_id: str) -> "ExternalIdentity":
        identity = cls(identity_id_for(provider, subject))
        identity._record(ExternalIdentityLinked(identity_id=identity.id, provider=provider, account_id=subject,
                                                member_id=member_id))
        return identity

    @applies(ExternalIdentityLinked)
    def _linked(self, e: ExternalIdentityLinked):
        self.member_id = e.member_id
