"""The members use cases. Framework-free: the nameko service only calls these.

Each command use case takes its command (`commands.py`) and the caller's
`Context`; what they read, they read through the projections' queries
(`projections.py`), in the command's transaction or a read of its own.
"""
from __future__ import annotations

import uuid
from datetime import datetime, timezone
from functools import cached_property

from umpnet_geo import departement_for_postcode, lookup_postcode
from umpnet_kernel.application import Application, UnitOfWork
from umpnet_kernel.errors import Forbidden, NotFound, RateLimited, Unauthorized, ValidationFailed
from umpnet_kernel.events import Context
from umpnet_kernel.links import LinkTokens, keyed_hash
from umpnet_kernel.paging import PageRequest
from umpnet_kernel.shredding import Shredder

from . import map as members_map
from . import projections, security, throttle
from .commands import (
    AcceptContact,
    CloseSession,
    GrantRole,
    OpenSession,
    Register,
    RemoveContact,
    RequestContact,
    RequestPasswordReset,
    ResendVerification,
    ResetPassword,
    SetRoles,
    UpdateProfile,
    VerifyEmail,
)
from .domain.catalogue import DIGITAL_FEDERATION_CODE, FEDERATIONS, THEMES, local_federation
from .domain.contact import Contact, contact_id_for, no_contact
from .domain.email_address import email_key, email_key_of, normalise_email
from .domain.member import Actor, Member, Residence, roles_grantable
from .domain.session import Session
from .invitations import InvitationsUseCases
from .geocoding import PostcodeLocator
from .limits import RESET_LINK_LIFETIME, RESOLVED_AT_ONCE_MAX, SESSION_LIFETIME, VERIFY_LINK_LIFETIME
from .privacy import PrivacyUseCases
from .projections import RESET_PASSWORD, VERIFY_EMAIL, all_projections
from .talent_sources import TalentSources, talent_sources
from .talents import TalentsProjection, TalentsUseCases
from .throttle import RateLimits

PENDING = {"status": "pending_verification"}
_INVALID_LINK = "Lien invalide ou expiré : demandez-en un nouveau."


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def residence_for(postcode: str, federation_code: str | None = None) -> Residence:
    """Commune and local federation of a postcode (or of the federation chosen instead)."""
    place = lookup_postcode(postcode)
    departement = departement_for_postcode(postcode)
    if place is None or departement is None:
        raise ValidationFailed("Code postal inconnu.", {"postcode": ["Code postal français inconnu."]})
    if federation_code is not None and local_federation(federation_code) is None:
        raise ValidationFailed("Fédération inconnue.", {"federation_code": ["Fédération inconnue."]})
    return Residence(postcode=place.postcode, city=place.city, federation_code=federation_code or departement)


def _too_many(retry_after: int) -> RateLimited:
    return RateLimited("Trop de demandes : réessayez plus tard.", retry_after=retry_after)


def _invalid_link() -> ValidationFailed:
    return ValidationFailed(_INVALID_LINK, {"token": [_INVALID_LINK]})


class MembersApp(InvitationsUseCases, TalentsUseCases, PrivacyUseCases, Application):
    def __init__(self, db, secret_key: str, limits: RateLimits | None = None,
                 sources: TalentSources = talent_sources):
        """`db`: the service's `Database` (or, in unit tests, an `InMemoryDatabase`);
        `sources`: where talent points come from (talent_sources.py). Personal
        fields of the events are sealed per member (umpnet_kernel.shredding, privacy.py)."""
        super().__init__(db, all_projections(TalentsProjection(sources)), shredder=Shredder(secret_key))
        self.talent_sources = sources
        self.links = LinkTokens(secret_key)
        self.limits = limits or RateLimits()
        self._secret_key = secret_key

    # -- sign-up and verification ---------------------------------------------
    def register(self, command: Register, context: Context) -> dict:
        """Answers the same whether or not the address is registered (membership
        of a party is special-category data): a new address gets the
        verification email, a registered one an email telling its owner.
        """
        email = normalise_email(command.email)
        security.check_password_strength(command.password)
        residence = residence_for(command.postcode, command.federation_code)
        now = _utcnow()
        self._limit(context, now, ("sign-up-source", context.source, self.limits.sign_ups_per_source))
        # Hashed on both paths, outside the transaction: a registered address
        # must not answer sooner than a new one.
        password_hash = security.hash_password(command.password)
        member_id = str(uuid.uuid4())

        def run(uow: UnitOfWork):
            existing = projections.member_by_email_key(uow.conn, email_key(email))
            if existing is not None:
                self._notify_duplicate_sign_up(uow, existing["member_id"], now)
                return PENDING
            # Credited to whoever invited (invitations.py); a bad token credits nobody.
            invited_by = self.credit_invitation(uow, command.invitation_token, member_id, now)
            member = Member.register(
                member_id,
                email,
                password_hash,
                command.first_name,
                command.last_name,
                residence,
                themes=command.themes,
                invited_by=invited_by,
            )
            member.request_email_verification(self.links.new_nonce(), now + VERIFY_LINK_LIFETIME)
            uow.add(member)
            return PENDING

        return self.execute_once(context, "register", run)

    def _notify_duplicate_sign_up(self, uow: UnitOfWork, member_id: str, now: datetime) -> None:
        limit = self.limits.duplicate_sign_up_notice_per_address
        count, _ = throttle.hit(uow.conn, self._key("duplicate-notice", member_id), limit, now)
        if count <= limit.count:  # beyond: the owner was told within the hour already
            uow.get(Member, member_id).signed_up_again()

    def verify_email(self, command: VerifyEmail, context: Context) -> dict:
        nonce = self.links.nonce_of(VERIFY_EMAIL, command.token)
        if nonce is None:
            raise _invalid_link()
        now = _utcnow()

        def run(uow: UnitOfWork):
            member_id = projections.link_holder(uow.conn, nonce, VERIFY_EMAIL)
            if member_id is None:
                raise _invalid_link()
            uow.get(Member, member_id).verify_email(nonce, now)
            self.accept_invitation(uow, member_id)
            return {"member_id": member_id, "email_verified": True}

        return self.execute_once(context, "verify_email", run)

    def resend_verification(self, command: ResendVerification, context: Context) -> None:
        """Send the verification email again; silent for unknown or verified addresses."""
        self._email_a_link(command.email, context, "resend_verification", "verification",
                           lambda member: member.request_email_verification(
                               self.links.new_nonce(), _utcnow() + VERIFY_LINK_LIFETIME))

    # -- password reset ------------------------------------------------------
    def request_password_reset(self, command: RequestPasswordReset, context: Context) -> None:
        """Email a reset link if the address is registered; the same answer otherwise."""
        self._email_a_link(command.email, context, "request_password_reset", "password-reset",
                           lambda member: member.request_password_reset(
                               self.links.new_nonce(), _utcnow() + RESET_LINK_LIFETIME))

    def _email_a_link(self, email: str, context: Context, use_case: str, kind: str, request) -> None:
        """`request(member)` for the member with this address, if any, when the
        request is within the mail limits, per address and per source (counted
        whether or not the address is registered: the answer must not tell).
        Counting and the request share one transaction; a refusal's count is kept."""
        key = email_key_of(email)
        now = _utcnow()
        checks = (
            (f"mail-address:{kind}", key or email[:320], self.limits.mail_per_address),
            (f"mail-source:{kind}", context.source, self.limits.mail_per_source),
        )

        def run(uow: UnitOfWork):
            blocked_until = self._count(uow, now, checks)
            if blocked_until is not None:
                return {"retry_after": throttle.seconds_until(blocked_until, now)}
            row = projections.member_by_email_key(uow.conn, key)
            if row is not None:
                request(uow.get(Member, row["member_id"]))
            return None

        refused = self.execute_once(context, use_case, run)
        if refused is not None:
            raise _too_many(refused["retry_after"])

    def reset_password(self, command: ResetPassword, context: Context) -> dict:
        """A new password with an emailed link; every session of the member is closed."""
        nonce = self.links.nonce_of(RESET_PASSWORD, command.token)
        if nonce is None:
            raise _invalid_link()
        security.check_password_strength(command.password)
        password_hash = security.hash_password(command.password)
        now = _utcnow()

        def run(uow: UnitOfWork):
            member_id = projections.link_holder(uow.conn, nonce, RESET_PASSWORD)
            if member_id is None:
                raise _invalid_link()
            uow.get(Member, member_id).reset_password(nonce, password_hash, now)
            self.accept_invitation(uow, member_id)  # the link verified the address, if it was not
            for session in uow.get_many(Session, projections.sessions_of_member(uow.conn, member_id)).values():
                session.close()
            return {"member_id": member_id}

        return self.execute_once(context, "reset_password", run)

    # -- sessions -----------------------------------------------------------
    def open_session(self, command: OpenSession, context: Context) -> dict:
        """Log in. Attempts are counted before the password is checked, so
        parallel guesses cannot overtake the count; see throttle.RateLimits."""
        key = email_key_of(command.email) or f"not-an-address:{command.email[:320]}"
        now = _utcnow()
        keys = self._login_keys(key, context.source)
        self._reserve_login_attempt(keys, now)
        with self.read() as conn:
            row = projections.member_by_email_key(conn, key)
        if not security.password_matches(row["password_hash"] if row else None, command.password):
            self._count_login_failure(keys, now)
            raise Unauthorized("Adresse e-mail ou mot de passe incorrect.")
        if not row["email_verified"]:
            raise Forbidden("Confirmez d'abord votre adresse e-mail : suivez le lien que nous vous avons envoyé.")
        token, token_hash = security.new_session_token()
        session_id = str(uuid.uuid4())

        def run(uow: UnitOfWork):
            self._login_succeeded(uow, keys)
            uow.add(Session.start(session_id, row["member_id"], token_hash, now + SESSION_LIFETIME))

        self.execute(Context(actor_id=row["member_id"], correlation_id=context.correlation_id), run)
        return {"token": token, "member_id": row["member_id"]}

    # A password typed to log in or to erase the account (privacy.py) is one
    # attempt: reserved (counted) before it is checked, a wrong one a failure.
    def _login_keys(self, email_key: str, source: str | None) -> dict[str, str]:
        """The counters of an attempt at the account with this address key, from `source`."""
        source = source or "-"
        return {
            "account+source": self._key("login-account-source", f"{email_key}|{source}"),
            "source": self._key("login-source", source),
            "account": self._key("login-account", email_key),
            "pace": self._key("login-pace", email_key),
        }

    def _reserve_login_attempt(self, keys: dict[str, str], now: datetime) -> None:
        """Count the attempt, in a transaction of its own; 429 if it is over a limit."""
        limits = self.limits

        def reserve(uow: UnitOfWork):
            blocked_until = []
            for name, limit in (("account+source", limits.login_per_account_and_source),
                                ("source", limits.login_failures_per_source)):
                count, ends = throttle.hit(uow.conn, keys[name], limit, now)
                if count > limit.count:
                    blocked_until.append(ends)
            if throttle.count(uow.conn, keys["account"], now) >= limits.login_failures_per_account.count:
                count, ends = throttle.hit(uow.conn, keys["pace"], limits.login_pace_when_attacked, now)
                if count > limits.login_pace_when_attacked.count:
                    blocked_until.append(ends)
            return max(blocked_until) if blocked_until else None

        blocked_until = self.execute(Context(), reserve)
        if blocked_until is not None:
            raise RateLimited(
                "Trop de tentatives échouées : réessayez dans quelques minutes.",
                retry_after=throttle.seconds_until(blocked_until, now),
            )

    def _count_login_failure(self, keys: dict[str, str], now: datetime) -> None:
        limit = self.limits.login_failures_per_account
        self.execute(Context(), lambda uow: throttle.hit(uow.conn, keys["account"], limit, now))

    @staticmethod
    def _login_succeeded(uow: UnitOfWork, keys: dict[str, str]) -> None:
        """In the transaction of what the right password allowed."""
        throttle.clear(uow.conn, keys["account+source"])
        throttle.refund(uow.conn, keys["source"])  # a good password is not a failure of its source

    def close_session(self, command: CloseSession, context: Context) -> None:
        with self.read() as conn:
            session_id = projections.session_of_token(conn, security.token_hash(command.token))
        if session_id is not None:
            self.execute(context, lambda uow: uow.get(Session, session_id).close())

    def resolve_session(self, token: str) -> dict | None:
        """Who holds this bearer token: {member_id, roles, federation_code}, or None."""
        return self.resolve_sessions([token])[0]

    def resolve_sessions(self, tokens: list[str]) -> list[dict | None]:
        """resolve_session of each token, in one read: the gateway gathers the sessions a
        burst of requests brings (each a new one, so none it keeps) into one call."""
        if len(tokens) > RESOLVED_AT_ONCE_MAX:
            raise ValidationFailed(f"{RESOLVED_AT_ONCE_MAX} jetons au plus.")
        digests = [security.token_hash(token) for token in tokens]
        with self.read() as conn:
            holders = projections.session_holders(conn, digests)
        now = _utcnow()
        answers = []
        for digest in digests:
            holder = holders.get(digest)
            if holder is None or holder["expires_at"] <= now:
                answers.append(None)
            else:
                answers.append({key: value for key, value in holder.items() if key != "expires_at"})
        return answers

    # -- profiles -----------------------------------------------------------
    def own_profile(self, member_id: str) -> dict:
        return projections.own_profile(self._row(member_id))

    def public_profile(self, member_id: str, viewer_id: str | None = None) -> dict:
        """The display name, and only what the member chose to show; unverified members are not visible.
        To `viewer_id`, an accepted contact, also the email (and to anyone in a pair, its status)."""
        with self.read() as conn:
            row = self._visible_member(conn, member_id)
            contact = projections.contact_status(conn, viewer_id, member_id) if viewer_id else None
        return projections.public_profile(row, contact)

    def display_names(self, member_ids: list[str]) -> dict[str, str]:
        """What other members see of each (`public_profile`'s display name), in one read:
        for pages that list many members at once. Unknown and unverified ids are left out."""
        if not isinstance(member_ids, list) or not all(isinstance(i, str) for i in member_ids):
            raise ValidationFailed("Une liste d'identifiants de membres.", {"member_ids": ["Une liste de textes."]})
        with self.read() as conn:
            return projections.display_names_of(conn, member_ids)

    def update_profile(self, command: UpdateProfile, context: Context) -> dict:
        changes = command.changes()
        residence = None
        if "postcode" in changes or "federation_code" in changes:
            current = self._row(command.member_id)
            residence = residence_for(
                changes.pop("postcode", current["postcode"]), changes.pop("federation_code", None)
            )

        def run(uow: UnitOfWork):
            member = self._get(uow, command.member_id)
            member.update_profile(residence=residence, **changes)

        self.execute(context, run)
        return self.own_profile(command.member_id)

    # -- contacts -------------------------------------------------------------
    # The pair is its own stream (domain/contact.py); the member rows are read
    # in the command's transaction, so a member who just stopped accepting
    # requests (accepts_contact_requests) or was never verified is seen as such.
    def request_contact(self, command: RequestContact, context: Context) -> dict:
        """Ask another member; asking back someone who asked you accepts their request.
        400 for oneself, 404 for an unknown or unverified member, 403 if they refuse
        requests, 409 for a second request, 429 past the daily limit."""
        if command.other_id == command.member_id:
            raise ValidationFailed("Vous ne pouvez pas vous demander vous-même en contact.",
                                   {"member_id": ["Choisissez un autre membre que vous-même."]})
        now = _utcnow()
        limit = self.limits.contact_requests_per_member

        def run(uow: UnitOfWork):
            other = self._visible_member(uow.conn, command.other_id)
            pair = Contact.between(command.member_id, command.other_id)
            contact = uow.get(Contact, pair.id)
            if contact is None:  # nothing between them yet: the pair's stream starts here
                contact = pair
                uow.add(contact)
            contact.request(command.member_id, command.other_id, other["accepts_contact_requests"])
            # Counted with the request, in its transaction: a refused request
            # (rolled back) does not count, parallel ones are counted one by one.
            count, ends = throttle.hit(uow.conn, self._key("contact-requests", command.member_id), limit, now)
            if count > limit.count:
                raise _too_many(throttle.seconds_until(ends, now))
            return self._contact_view(other, contact.status_for(command.member_id))

        return self.execute(context, run)

    def accept_contact(self, command: AcceptContact, context: Context) -> dict:
        """Accept a request addressed to me: only its addressee can (403 for its requester, 404 for anyone else)."""

        def run(uow: UnitOfWork):
            other = self._visible_member(uow.conn, command.other_id)
            self._contact(uow, command).accept(command.member_id)
            return self._contact_view(other, "accepted")

        return self.execute(context, run)

    def remove_contact(self, command: RemoveContact, context: Context) -> None:
        """Decline a request addressed to me, withdraw mine, or remove a contact; 404 if there is none."""
        self.execute(context, lambda uow: self._contact(uow, command).remove(command.member_id))

    def list_contacts(self, member_id: str, limit: int | None = None, cursor: str | None = None) -> dict:
        """A page of my contacts and requests, newest first (API.md `GET /api/contacts`)."""
        page = PageRequest.parse(limit, cursor)
        with self.read() as conn:
            return projections.contacts_of_member(conn, member_id, page)

    @staticmethod
    def _visible_member(conn, member_id: str) -> dict:
        row = projections.member_by_id(conn, member_id)
        if row is None or not row["email_verified"]:
            raise NotFound("Membre introuvable.")
        return row

    @staticmethod
    def _contact(uow: UnitOfWork, command) -> Contact:
        contact = uow.get(Contact, contact_id_for(command.member_id, command.other_id))
        if contact is None:
            raise no_contact()
        return contact

    @staticmethod
    def _contact_view(row: dict, status: str) -> dict:
        return {"member_id": row["member_id"], "display_name": projections.display_name(row), "status": status}

    # -- roles --------------------------------------------------------------
    def set_roles(self, command: SetRoles, context: Context) -> dict:
        def run(uow: UnitOfWork):
            # the author as they are now: the gateway's kept session may still carry roles just taken away
            by = self._get(uow, command.by.member_id).as_actor()
            national_admins = projections.national_admin_count(uow.conn)
            self._get(uow, command.member_id).set_roles(command.roles, by=by, national_admins=national_admins)

        self.execute(context, run)
        return projections.member_with_roles(self._row(command.member_id))

    def role_choices(self, actor: dict, member_id: str) -> dict:
        """What the site's roles form shows `actor` (their session) for a member:
        {member: the member with roles and federation, grantable: the roles they may
        grant or take away}; 403 if none, 404 for an unknown or unverified member."""
        by = Actor(actor["member_id"], tuple(actor["roles"]), actor["federation_code"])
        with self.read() as conn:
            row = self._visible_member(conn, member_id)
        grantable = roles_grantable(by, row["federation_code"])
        if not grantable:
            raise Forbidden("Vous ne pouvez pas modifier les rôles de ce membre.")
        return {"member": {**projections.member_with_roles(row),
                           "federation": projections.federation_view(row["federation_code"])},
                "grantable": list(grantable)}

    def grant_role(self, command: GrantRole, context: Context) -> dict:
        with self.read() as conn:
            row = projections.member_by_email_key(conn, email_key_of(command.email))
        if row is None:
            raise NotFound("Aucun membre avec cette adresse e-mail.")
        self.execute(context, lambda uow: self._get(uow, row["member_id"]).grant_role(command.role))
        return self.own_profile(row["member_id"])

    # -- reference data -----------------------------------------------------
    def federations(self) -> list[dict]:
        with self.read() as conn:
            counts = projections.members_per_federation(conn)
        total = sum(counts.values())
        return [
            {
                "code": f.code,
                "name": f.name,
                "kind": f.kind,
                "member_count": total if f.code == DIGITAL_FEDERATION_CODE else counts.get(f.code, 0),
            }
            for f in FEDERATIONS
        ]

    @staticmethod
    def themes() -> list[dict]:
        return [{"slug": t.slug, "name": t.name} for t in THEMES]

    # -- the map of activists (members/map.py) ---------------------------------
    @cached_property
    def map_index(self) -> members_map.MapIndex:
        """This process's index of the members on the map, kept in step with `map_members`."""
        return members_map.MapIndex()

    @cached_property
    def postcodes(self) -> PostcodeLocator:
        """Where a searched postcode is; the service sets it from `GEOCODER` (default: offline)."""
        return PostcodeLocator()

    def map_members(self, lat=None, lon=None, radius_km=None, postcode=None, federation=None,
                    limit=None, cursor=None) -> dict:
        """A page of the map around a point or a postcode, or of a federation (API.md
        `GET /api/map/members`): `items`, `cells` (small cells as counts), `next_cursor`."""
        page = PageRequest.parse(limit, cursor, default_limit=members_map.DEFAULT_PAGE)
        if federation is not None:
            if local_federation(federation) is None:
                raise ValidationFailed("Fédération inconnue.", {"federation": ["Fédération inconnue."]})
        elif postcode is not None:
            centre = self.postcodes.locate(postcode) if isinstance(postcode, str) else None
            if centre is None:
                raise ValidationFailed("Code postal inconnu.", {"postcode": ["Code postal français inconnu."]})
            lat, lon = centre
        query = members_map.check_query(lat, lon, radius_km, federation)
        with self.read() as conn:
            self.map_index.refresh(conn)
        return members_map.search(self.map_index, query, page)

    # -- housekeeping -------------------------------------------------------
    def prune_expired(self) -> int:
        """Drop rate-limit windows that ended and request outcomes too old to be redelivered."""
        from umpnet_kernel.idempotency import prune_outcomes

        now = _utcnow()
        return self.execute(Context(), lambda uow: throttle.prune(uow.conn, now) + prune_outcomes(uow.conn, now))

    # -- helpers ------------------------------------------------------------
    def _key(self, purpose: str, value: str) -> str:
        return keyed_hash(self._secret_key, purpose, value)

    def _count(self, uow: UnitOfWork, now: datetime, checks) -> datetime | None:
        """Count (purpose, value, limit) checks in `uow`; when the first that is over ends, or None."""
        counted = [(self._key(purpose, value), limit) for purpose, value, limit in checks if value]
        over = [ends for (hits, ends), (_, limit) in zip(throttle.hit_many(uow.conn, counted, now), counted)
                if hits > limit.count]
        return max(over) if over else None

    def _limit(self, context: Context, now: datetime, *checks) -> None:
        """Count checks in a transaction of their own; 429 if any is over."""
        if any(value for _, value, _ in checks):
            blocked_until = self.execute(Context(), lambda uow: self._count(uow, now, checks))
            if blocked_until is not None:
                raise _too_many(throttle.seconds_until(blocked_until, now))

    def _row(self, member_id: str) -> dict:
        with self.read() as conn:
            row = projections.member_by_id(conn, member_id)
        if row is None:
            raise NotFound("Membre introuvable.")
        return row

    @staticmethod
    def _get(uow: UnitOfWork, member_id: str) -> Member:
        member = uow.get(Member, member_id)
        if member is None or member.erased:
            raise NotFound("Membre introuvable.")
        return member
