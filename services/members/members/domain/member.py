"""The Member aggregate: registration, email verification, profile, roles."""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, replace

from umpnet_kernel.aggregate import Aggregate, applies
from umpnet_kernel.errors import Forbidden, ValidationFailed

from ..events import (
    EmailVerificationRequested,
    EmailVerified,
    MemberRegistered,
    PasswordSet,
    ProfileUpdated,
    RolesChanged,
)
from .catalogue import (
    DELEGABLE_BY_FEDERATION_ADMIN,
    FEDERATION_ADMIN,
    MEMBER,
    NATIONAL_ADMIN,
    ROLES,
    THEME_SLUGS,
)

BIO_MAX = 2000


@dataclass(frozen=True)
class Residence:
    """Where a member lives, as much as the platform keeps: postcode and commune."""

    postcode: str
    city: str
    federation_code: str


@dataclass(frozen=True)
class Profile:
    first_name: str
    last_name: str
    postcode: str
    city: str
    federation_code: str
    themes: tuple[str, ...]
    bio: str = ""
    blog_url: str | None = None
    map_visible: bool = False
    contact_consent: bool = False


@dataclass(frozen=True)
class Actor:
    """Who asks: their id, roles and federation (from their session)."""

    member_id: str
    roles: tuple[str, ...]
    federation_code: str

    def has(self, role: str) -> bool:
        return role in self.roles


def check_themes(themes) -> tuple[str, ...]:
    unknown = sorted(set(themes) - THEME_SLUGS)
    if unknown:
        raise ValidationFailed("Thème inconnu.", {"themes": [f"Thème inconnu : {', '.join(unknown)}."]})
    return tuple(dict.fromkeys(themes))  # keep the member's order, drop repeats


NAME_MAX = 100


def email_fingerprint(email: str) -> str:
    """A short, stable digest of an address: enough to tell a token was made for it."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:24]


def check_name(field: str, value: str) -> str:
    """Names are optional ("sign up in two clicks, the rest later"), but tidy."""
    value = re.sub(r"\s+", " ", value or "").strip()
    if len(value) > NAME_MAX:
        raise ValidationFailed("Nom trop long.", {field: [f"{NAME_MAX} caractères au plus."]})
    return value


class Member(Aggregate):
    stream_prefix = "member"

    def __init__(self, id: str):
        super().__init__(id)
        self.email: str | None = None
        self.email_verified = False
        self.profile: Profile | None = None
        self.roles: tuple[str, ...] = (MEMBER,)

    # -- commands -----------------------------------------------------------
    @classmethod
    def register(
        cls,
        member_id: str,
        email: str,
        password_hash: str,
        first_name: str,
        last_name: str,
        residence: Residence,
        themes=(),
        invited_by: str | None = None,
    ) -> "Member":
        member = cls(member_id)
        member._record(
            MemberRegistered(
                member_id=member_id,
                email=email,
                first_name=check_name("first_name", first_name),
                last_name=check_name("last_name", last_name),
                postcode=residence.postcode,
                city=residence.city,
                federation_code=residence.federation_code,
                themes=check_themes(themes),
                invited_by=invited_by,
            )
        )
        member._record(PasswordSet(member_id=member_id, password_hash=password_hash))
        return member

    def request_email_verification(self, token: str) -> None:
        if not self.email_verified:
            self._record(
                EmailVerificationRequested(
                    member_id=self.id, email=self.email, first_name=self.profile.first_name, token=token
                )
            )

    def verify_email(self, fingerprint: str) -> None:
        """Verify with the fingerprint of the address the token was made for; twice changes nothing."""
        if fingerprint != email_fingerprint(self.email):
            raise ValidationFailed("Ce lien concerne une autre adresse.", {"token": ["Jeton invalide ou expiré."]})
        if not self.email_verified:
            self._record(EmailVerified(member_id=self.id))

    def update_profile(self, residence: Residence | None = None, **changes) -> None:
        profile = self.profile
        if residence is not None:
            profile = replace(
                profile,
                postcode=residence.postcode,
                city=residence.city,
                federation_code=residence.federation_code,
            )
        if "first_name" in changes:
            changes["first_name"] = check_name("first_name", changes["first_name"])
        if "last_name" in changes:
            changes["last_name"] = check_name("last_name", changes["last_name"])
        if "themes" in changes:
            changes["themes"] = check_themes(changes["themes"])
        if len(changes.get("bio") or "") > BIO_MAX:
            raise ValidationFailed("Présentation trop longue.", {"bio": [f"{BIO_MAX} caractères au plus."]})
        profile = replace(profile, **changes)
        if profile != self.profile:
            self._record(ProfileUpdated(member_id=self.id, **profile.__dict__))

    def set_roles(self, roles, by: Actor) -> None:
        unknown = set(roles) - set(ROLES)
        if unknown:
            raise ValidationFailed("Rôle inconnu.", {"roles": [f"Rôle inconnu : {', '.join(sorted(unknown))}."]})
        roles = tuple(sorted(set(roles) | {MEMBER}, key=ROLES.index))
        self._authorise_role_change(set(roles) ^ set(self.roles), by)
        if roles != self.roles:
            self._record(RolesChanged(member_id=self.id, roles=roles))

    def grant_role(self, role: str) -> None:
        """For operators (the `umpnet grant-role` command), who act outside any session."""
        if role not in ROLES:
            raise ValidationFailed("Rôle inconnu.", {"role": [f"Choisissez parmi : {', '.join(ROLES)}."]})
        if role not in self.roles:
            self._record(RolesChanged(member_id=self.id, roles=tuple(r for r in ROLES if r in {*self.roles, role})))

    def _authorise_role_change(self, changed: set[str], by: Actor) -> None:
        if by.has(NATIONAL_ADMIN):
            return
        if (
            by.has(FEDERATION_ADMIN)
            and by.federation_code == self.profile.federation_code
            and changed <= DELEGABLE_BY_FEDERATION_ADMIN
        ):
            return
        raise Forbidden("Vous ne pouvez pas modifier ces rôles.")

    # -- state changes ------------------------------------------------------
    @applies(MemberRegistered)
    def _registered(self, e: MemberRegistered):
        self.email = e.email
        self.profile = Profile(
            first_name=e.first_name,
            last_name=e.last_name,
            postcode=e.postcode,
            city=e.city,
            federation_code=e.federation_code,
            themes=e.themes,
        )

    @applies(PasswordSet)
    def _password_set(self, e: PasswordSet):
        pass  # only the read model keeps the hash: no decision here needs it

    @applies(EmailVerificationRequested)
    def _verification_requested(self, e):
        pass

    @applies(EmailVerified)
    def _verified(self, e: EmailVerified):
        self.email_verified = True

    @applies(ProfileUpdated)
    def _profile_updated(self, e: ProfileUpdated):
        fields = {k: v for k, v in e.__dict__.items() if k != "member_id"}
        self.profile = Profile(**fields)

    @applies(RolesChanged)
    def _roles_changed(self, e: RolesChanged):
        self.roles = e.roles
