"""The members use cases' commands: one frozen dataclass per use case, named as an order.

The service builds each from its RPC payload (`schemas.load`), strictly: a key
that is not one of the command's fields is refused, so a caller and the service
that disagree on a name fail at once rather than lose the value on the way (the
gateway's `invitation_token` was once read here as `invited_by`, and dropped).
Values are checked by the use cases and the domain, not here.
"""
from __future__ import annotations

from dataclasses import dataclass, fields

from .domain.member import Actor


class _Unchanged:
    """The value of a profile field the member did not change (None is a value: no blog)."""

    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED = _Unchanged()


@dataclass(frozen=True)
class Register:
    """Sign up; the answer is the same whether or not the address is registered."""

    email: str
    password: str
    postcode: str
    first_name: str = ""
    last_name: str = ""
    themes: tuple[str, ...] = ()
    federation_code: str | None = None  # a local federation other than the postcode's
    invitation_token: str | None = None  # from an invitation link (API.md `POST /api/invitations`)


@dataclass(frozen=True)
class VerifyEmail:
    token: str


@dataclass(frozen=True)
class ResendVerification:
    email: str


@dataclass(frozen=True)
class RequestPasswordReset:
    email: str


@dataclass(frozen=True)
class ResetPassword:
    token: str
    password: str


@dataclass(frozen=True)
class OpenSession:
    """Log in."""

    email: str
    password: str


@dataclass(frozen=True)
class CloseSession:
    """Log out."""

    token: str


@dataclass(frozen=True)
class UpdateProfile:
    """Change some fields of one's own profile; the others stay `UNCHANGED`."""

    member_id: str
    first_name: str = UNCHANGED
    last_name: str = UNCHANGED
    postcode: str = UNCHANGED
    federation_code: str = UNCHANGED
    themes: tuple[str, ...] = UNCHANGED
    bio: str = UNCHANGED
    blog_url: str | None = UNCHANGED
    map_visible: bool = UNCHANGED
    contact_consent: bool = UNCHANGED
    shown_fields: tuple[str, ...] = UNCHANGED
    accepts_contact_requests: bool = UNCHANGED
    skills: tuple[str, ...] = UNCHANGED

    def changes(self) -> dict:
        """The fields given, by name (without member_id)."""
        return {
            f.name: getattr(self, f.name)
            for f in fields(self)
            if f.name != "member_id" and getattr(self, f.name) is not UNCHANGED
        }


@dataclass(frozen=True)
class SetRoles:
    """An admin sets a member's roles (`by` is the admin, from their session)."""

    by: Actor
    member_id: str
    roles: tuple[str, ...]


@dataclass(frozen=True)
class GrantRole:
    """For operators (`umpnet grant-role`), who act outside any session."""

    email: str
    role: str


@dataclass(frozen=True)
class RequestContact:
    """Ask `other_id` to be contacts (`member_id` is who asks, from their session)."""

    member_id: str
    other_id: str


@dataclass(frozen=True)
class AcceptContact:
    """Accept the request `other_id` sent to `member_id`."""

    member_id: str
    other_id: str


@dataclass(frozen=True)
class RemoveContact:
    """End what is between `member_id` and `other_id`: decline, withdraw or remove."""

    member_id: str
    other_id: str


# -- invitations (invitations.py) ---------------------------------------------
@dataclass(frozen=True)
class SendInvitation:
    """`member_id` (from their session) invites the owner of `email` to join."""

    member_id: str
    email: str


@dataclass(frozen=True)
class LogInWithProvider:
    """Log in with a provider's account (Facebook), as the gateway read it from
    the provider: `email_verified` is what the provider says of the address."""

    provider: str
    subject: str
    email: str | None = None
    email_verified: bool = False


# -- erasure (privacy.py) ---------------------------------------------------------
@dataclass(frozen=True)
class EraseMember:
    """Forget me. `password`, when given (the site always asks it), must be the
    member's: it shows the member is at the keyboard, not only their session."""

    member_id: str
    password: str | None = None
