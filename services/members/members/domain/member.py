"""The Member aggregate: registration, email verification, profile, roles."""
from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from datetime import datetime

from umpnet_kernel.aggregate import Aggregate, applies
from umpnet_kernel.errors import Forbidden, NotFound, ValidationFailed

from ..events import (
    DuplicateSignUpAttempted,
    EmailVerificationRequested,
    EmailVerified,
    MemberErased,
    MemberRegistered,
    PasswordResetCompleted,
    PasswordResetRequested,
    PasswordSet,
    ProfileUpdated,
    RolesChanged,
)
from ..limits import BIO_MAX, NAME_MAX, SKILL_MAX, SKILLS_MAX
from .catalogue import (
    DELEGABLE_BY_FEDERATION_ADMIN,
    FEDERATION_ADMIN,
    MEMBER,
    NATIONAL_ADMIN,
    ROLES,
    THEME_SLUGS,
)

# What a member may choose to show on their public profile, besides the
# display name that every other member sees.
SHOWABLE_FIELDS = ("city", "federation", "themes", "bio", "blog_url", "skills")


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
    contact_consent: bool = False  # the party may contact the member: opt-in
    shown_fields: tuple[str, ...] = ()
    accepts_contact_requests: bool = True  # other members may ask to be contacts: opt-out
    skills: tuple[str, ...] = ()


@dataclass(frozen=True)
class Actor:
    """Who asks: their id, roles and federation (from their session)."""

    member_id: str
    roles: tuple[str, ...]
    federation_code: str

    def has(self, role: str) -> bool:
        return role in self.roles


def roles_grantable(by: Actor, federation_code: str) -> tuple[str, ...]:
    """The roles `by` may give to or take from a member of this local federation
    (`member` is everyone's, never granted): all for a national admin; organizer,
    candidate and moderator for a federation admin inside their federation; else none."""
    if by.has(NATIONAL_ADMIN):
        return tuple(r for r in ROLES if r != MEMBER)
    if by.has(FEDERATION_ADMIN) and by.federation_code == federation_code:
        return tuple(r for r in ROLES if r in DELEGABLE_BY_FEDERATION_ADMIN)
    return ()


def check_themes(themes) -> tuple[str, ...]:
    unknown = sorted(set(themes) - THEME_SLUGS)
    if unknown:
        raise ValidationFailed("Thème inconnu.", {"themes": [f"Thème inconnu : {', '.join(unknown)}."]})
    return tuple(dict.fromkeys(themes))  # keep the member's order, drop repeats


def check_shown_fields(shown) -> tuple[str, ...]:
    unknown = sorted(set(shown) - set(SHOWABLE_FIELDS))
    if unknown:
        raise ValidationFailed("Champ inconnu.", {"shown_fields": [f"Choisissez parmi : {', '.join(SHOWABLE_FIELDS)}."]})
    return tuple(f for f in SHOWABLE_FIELDS if f in set(shown))


def check_skills(skills) -> tuple[str, ...]:
    """A few short skills in the member's words: tidied, blanks and repeats (any case) dropped."""
    kept: dict[str, str] = {}
    for skill in skills:
        skill = re.sub(r"\s+", " ", skill or "").strip()
        if any(unicodedata.category(c) in ("Cc", "Cf", "Cs") for c in skill):
            raise ValidationFailed("Caractère invisible ou de contrôle.", {"skills": ["Caractère non autorisé."]})
        if len(skill) > SKILL_MAX:
            raise ValidationFailed("Compétence trop longue.", {"skills": [f"{SKILL_MAX} caractères au plus par compétence."]})
        if skill:
            kept.setdefault(skill.casefold(), skill)
    if len(kept) > SKILLS_MAX:
        raise ValidationFailed("Trop de compétences.", {"skills": [f"{SKILLS_MAX} compétences au plus."]})
    return tuple(kept.values())


_LINK_USED = "Ce lien a déjà servi ou a expiré : demandez-en un nouveau."


def check_name(field: str, value: str) -> str:
    """Names are optional ("sign up in two clicks, the rest later"), but tidy."""
    value = re.sub(r"\s+", " ", value or "").strip()
    if any(unicodedata.category(c) in ("Cc", "Cf", "Cs") for c in value):
        raise ValidationFailed("Caractère invisible ou de contrôle.", {field: ["Caractère non autorisé."]})
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
        # Links emailed and not used yet: {nonce: expires_at}. A link works
        # once, until it expires or a newer use of its kind consumed them all.
        self.verification_links: dict[str, datetime] = {}
        self.reset_links: dict[str, datetime] = {}
        self.erased = False

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

    def request_email_verification(self, link_nonce: str, expires_at: datetime) -> None:
        if not self.email_verified:
            self._record(
                EmailVerificationRequested(
                    member_id=self.id,
                    email=self.email,
                    first_name=self.profile.first_name,
                    link_nonce=link_nonce,
                    expires_at=expires_at,
                )
            )

    def signed_up_again(self) -> None:
        """Someone signed up with this address again: tell its owner, nobody else."""
        self._record(DuplicateSignUpAttempted(member_id=self.id, email=self.email, first_name=self.profile.first_name))

    def verify_email(self, link_nonce: str, now: datetime) -> None:
        """Verify with an emailed link: once, before it expires."""
        expires_at = self.verification_links.get(link_nonce)
        if self.email_verified or expires_at is None or expires_at <= now:
            raise ValidationFailed(_LINK_USED, {"token": [_LINK_USED]})
        self._record(EmailVerified(member_id=self.id))

    def request_password_reset(self, link_nonce: str, expires_at: datetime) -> None:
        self._record(
            PasswordResetRequested(
                member_id=self.id,
                email=self.email,
                first_name=self.profile.first_name,
                link_nonce=link_nonce,
                expires_at=expires_at,
            )
        )

    def reset_password(self, link_nonce: str, password_hash: str, now: datetime) -> None:
        """Set a new password with an emailed reset link: once, before it expires.

        The link proves the member reads mail at the address, so an address
        not verified yet is verified too.
        """
        expires_at = self.reset_links.get(link_nonce)
        if expires_at is None or expires_at <= now:
            raise ValidationFailed(_LINK_USED, {"token": [_LINK_USED]})
        self._record(PasswordResetCompleted(member_id=self.id))
        self._record(PasswordSet(member_id=self.id, password_hash=password_hash))
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
        if "shown_fields" in changes:
            changes["shown_fields"] = check_shown_fields(changes["shown_fields"])
        if "skills" in changes:
            changes["skills"] = check_skills(changes["skills"])
        if len(changes.get("bio") or "") > BIO_MAX:
            raise ValidationFailed("Présentation trop longue.", {"bio": [f"{BIO_MAX} caractères au plus."]})
        profile = replace(profile, **changes)
        moved = profile.federation_code != self.profile.federation_code
        if profile != self.profile:
            self._record(ProfileUpdated(member_id=self.id, **profile.__dict__))
        if moved and FEDERATION_ADMIN in self.roles:
            # A federation admin's authority belongs to the federation it was
            # granted in: moving elsewhere ends it, or an admin of 75 could
            # move to 69 and hand out roles there.
            # Its author is the member: their own move ended it.
            kept = tuple(r for r in self.roles if r != FEDERATION_ADMIN)
            self._record(RolesChanged(member_id=self.id, roles=kept, changed_by=self.id))

    def set_roles(self, roles, by: Actor, national_admins: int) -> None:
        """`national_admins`: how many members hold that role now (the last one stays)."""
        unknown = set(roles) - set(ROLES)
        if unknown:
            raise ValidationFailed("Rôle inconnu.", {"roles": [f"Rôle inconnu : {', '.join(sorted(unknown))}."]})
        roles = tuple(sorted(set(roles) | {MEMBER}, key=ROLES.index))
        self._authorise_role_change(set(roles) ^ set(self.roles), by)
        if NATIONAL_ADMIN in self.roles and NATIONAL_ADMIN not in roles and national_admins <= 1:
            raise ValidationFailed(
                "Il doit rester au moins un administrateur national.",
                {"roles": ["Nommez d'abord un autre administrateur national."]},
            )
        if roles != self.roles:
            self._record(RolesChanged(member_id=self.id, roles=roles, changed_by=by.member_id))

    def as_actor(self) -> Actor:
        """This member asking, with the roles and federation they hold now."""
        return Actor(self.id, tuple(self.roles), self.profile.federation_code)

    def grant_role(self, role: str) -> None:
        """For operators (the `umpnet grant-role` command), who act outside any session."""
        if role not in ROLES:
            raise ValidationFailed("Rôle inconnu.", {"role": [f"Choisissez parmi : {', '.join(ROLES)}."]})
        if role not in self.roles:
            self._record(RolesChanged(member_id=self.id, roles=tuple(r for r in ROLES if r in {*self.roles, role})))

    def _authorise_role_change(self, changed: set[str], by: Actor) -> None:
        grantable = set(roles_grantable(by, self.profile.federation_code))
        if not grantable or not changed <= grantable:  # an admin of nothing here may not even "change" nothing
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
    def _verification_requested(self, e: EmailVerificationRequested):
        self.verification_links[e.link_nonce] = e.expires_at

    @applies(DuplicateSignUpAttempted)
    def _signed_up_again(self, e):
        pass

    @applies(EmailVerified)
    def _verified(self, e: EmailVerified):
        self.email_verified = True
        self.verification_links = {}

    @applies(PasswordResetRequested)
    def _reset_requested(self, e: PasswordResetRequested):
        self.reset_links[e.link_nonce] = e.expires_at

    @applies(PasswordResetCompleted)
    def _reset_completed(self, e):
        self.reset_links = {}

    @applies(ProfileUpdated)
    def _profile_updated(self, e: ProfileUpdated):
        fields = {k: v for k, v in e.__dict__.items() if k != "member_id"}
        self.profile = Profile(**fields)

    @applies(RolesChanged)
    def _roles_changed(self, e: RolesChanged):
        self.roles = e.roles

    # -- erasure (privacy.py) -------------------------------------------------
    def erase(self) -> None:
        """Forget the member: nothing of them is kept but their id and their erasure."""
        if self.erased:
            raise NotFound("Membre introuvable.")
        self._record(MemberErased(member_id=self.id))

    @applies(MemberErased)
    def _erased(self, e: MemberErased):
        self.erased = True
        self.email, self.profile = None, None
        self.verification_links, self.reset_links = {}, {}
