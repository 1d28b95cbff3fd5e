"""The members use cases. Framework-free: the nameko service only calls these."""
from __future__ import annotations

import json
import uuid
from datetime import datetime, timezone

from sqlalchemy import bindparam, func, select

from umpnet_geo import departement_for_postcode, lookup_postcode
from umpnet_kernel.application import Application, UnitOfWork
from umpnet_kernel.database import Database
from umpnet_kernel.errors import Conflict, Forbidden, NotFound, RateLimited, Unauthorized, ValidationFailed
from umpnet_kernel.events import Context

from . import security
from .domain.catalogue import (
    DIGITAL_FEDERATION_CODE,
    FEDERATIONS,
    THEMES,
    local_federation,
)
from .domain.member import Actor, Member, Residence
from .domain.session import Session
from .projections import all_projections, members, sessions


# The queries every request runs, built once with their values bound per call:
# building a statement per call cost SQLAlchemy more than running it.
_MEMBER_BY_EMAIL = select(members).where(members.c.email_lower == bindparam("email_lower"))
_MEMBER_ID_BY_EMAIL = select(members.c.member_id).where(members.c.email_lower == bindparam("email_lower"))
_MEMBER_BY_ID = select(members).where(members.c.member_id == bindparam("member_id"))
_SESSION_BY_TOKEN = select(sessions).where(sessions.c.token_hash == bindparam("token_hash"))
_SESSION_HOLDER = (
    select(sessions.c.expires_at, members.c.member_id, members.c.roles, members.c.federation_code)
    .join(members, members.c.member_id == sessions.c.member_id)
    .where(sessions.c.token_hash == bindparam("token_hash"))
)


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _aware(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=timezone.utc) if moment is not None and moment.tzinfo is None else moment


def residence_for(postcode: str, federation_code: str | None = None) -> Residence:
    """Commune and local federation of a postcode (or of the federation chosen instead)."""
    place = lookup_postcode(postcode)
    departement = departement_for_postcode(postcode)
    if place is None or departement is None:
        raise ValidationFailed("Code postal inconnu.", {"postcode": ["Code postal français inconnu."]})
    if federation_code is not None and local_federation(federation_code) is None:
        raise ValidationFailed("Fédération inconnue.", {"federation_code": ["Fédération inconnue."]})
    return Residence(postcode=place.postcode, city=place.city, federation_code=federation_code or departement)


def display_name(row) -> str:
    """What other members see: first name and initial, never the full name or email."""
    if row["first_name"]:
        initial = f" {row['last_name'][:1]}." if row["last_name"] else ""
        return f"{row['first_name']}{initial}"
    return f"Membre ({row['city']})"


def federation_view(code: str) -> dict:
    federation = local_federation(code)
    return {"code": code, "name": federation.name if federation else code}


class MembersApp(Application):
    def __init__(self, db: Database, secret_key: str):
        super().__init__(db, all_projections())
        self.tokens = security.VerificationTokens(secret_key)

    # -- sign-up and verification ---------------------------------------------
    def register(self, data: dict, context: Context) -> dict:
        """`data` is validated by the caller's schema: email, password, names, postcode…"""
        email = data["email"].strip()
        security.check_password_strength(data["password"])
        residence = residence_for(data["postcode"], data.get("federation_code"))
        password_hash = security.hash_password(data["password"])  # slow: outside the transaction
        member_id = str(uuid.uuid4())

        def command(uow: UnitOfWork):
            if self._member_id_by_email(uow.conn, email) is not None:
                raise Conflict("Cette adresse e-mail est déjà inscrite.", {"email": ["Adresse déjà inscrite."]})
            member = Member.register(
                member_id,
                email,
                password_hash,
                data.get("first_name", ""),
                data.get("last_name", ""),
                residence,
                themes=data.get("themes", ()),
                invited_by=data.get("invited_by"),
            )
            member.request_email_verification(self.tokens.make(member_id, email))
            uow.add(member)

        self.execute(context, command)
        return self.own_profile(member_id)

    def verify_email(self, token: str, context: Context) -> dict:
        found = self.tokens.read(token)
        if found is None:
            raise ValidationFailed("Lien invalide ou expiré.", {"token": ["Jeton invalide ou expiré."]})
        member_id, fingerprint = found

        def command(uow: UnitOfWork):
            member = uow.get(Member, member_id)
            if member is None:
                raise ValidationFailed("Lien invalide ou expiré.", {"token": ["Jeton invalide ou expiré."]})
            member.verify_email(fingerprint)

        self.execute(context, command)
        return {"member_id": member_id, "email_verified": True}

    def resend_verification(self, email: str, context: Context) -> None:
        """Send the verification email again; silent for unknown or verified addresses."""
        with self.read() as conn:
            member_id = self._member_id_by_email(conn, email)
        if member_id is None:
            return

        def command(uow: UnitOfWork):
            member = uow.get(Member, member_id)
            member.request_email_verification(self.tokens.make(member_id, member.email))

        self.execute(context, command)

    # -- sessions -----------------------------------------------------------
    def open_session(self, email: str, password: str, context: Context) -> dict:
        email_lower = email.strip().lower()
        now = _utcnow()
        with self.read() as conn:
            if security.login_blocked(conn, email_lower, now):
                raise RateLimited("Trop de tentatives échouées : réessayez dans quelques minutes.")
            row = conn.execute(_MEMBER_BY_EMAIL, {"email_lower": email_lower}).mappings().first()
        if not security.password_matches(row["password_hash"] if row else None, password):
            with self.db.write() as conn:
                security.record_login_failure(conn, email_lower, now)
            raise Unauthorized("Adresse e-mail ou mot de passe incorrect.")
        if not row["email_verified"]:
            raise Forbidden("Confirmez d'abord votre adresse e-mail : suivez le lien que nous vous avons envoyé.")
        token, token_hash = security.new_session_token()
        session_id = str(uuid.uuid4())

        def command(uow: UnitOfWork):
            security.clear_login_failures(uow.conn, email_lower)
            uow.add(Session.start(session_id, row["member_id"], token_hash, now + security.SESSION_LIFETIME))

        self.execute(Context(actor_id=row["member_id"], correlation_id=context.correlation_id), command)
        return {"token": token, "member_id": row["member_id"]}

    def close_session(self, token: str, context: Context) -> None:
        with self.read() as conn:
            row = conn.execute(_SESSION_BY_TOKEN, {"token_hash": security.token_hash(token)}).first()
        if row is None:
            return

        def command(uow: UnitOfWork):
            uow.get(Session, row.session_id).close()

        self.execute(context, command)

    def resolve_session(self, token: str) -> dict | None:
        """Who holds this bearer token: {member_id, roles, federation_code}, or None."""
        with self.read() as conn:
            row = conn.execute(_SESSION_HOLDER, {"token_hash": security.token_hash(token)}).first()
        if row is None or _aware(row.expires_at) <= _utcnow():
            return None
        return {"member_id": row.member_id, "roles": json.loads(row.roles), "federation_code": row.federation_code}

    # -- profiles -----------------------------------------------------------
    def own_profile(self, member_id: str) -> dict:
        row = self._row(member_id)
        return {
            **self._public(row),
            "email": row["email"],
            "postcode": row["postcode"],
            "digital_federation": True,
            "email_verified": row["email_verified"],
            "bio": row["bio"],
            "blog_url": row["blog_url"],
            "roles": json.loads(row["roles"]),
            "map_visible": row["map_visible"],
            "contact_consent": row["contact_consent"],
            "registered_at": _aware(row["registered_at"]),
        }

    def public_profile(self, member_id: str) -> dict:
        return self._public(self._row(member_id))

    def update_profile(self, member_id: str, changes: dict, context: Context) -> dict:
        changes = dict(changes)
        residence = None
        if "postcode" in changes or "federation_code" in changes:
            current = self._row(member_id)
            residence = residence_for(
                changes.pop("postcode", current["postcode"]), changes.pop("federation_code", None)
            )

        def command(uow: UnitOfWork):
            member = self._get(uow, member_id)
            member.update_profile(residence=residence, **changes)

        self.execute(context, command)
        return self.own_profile(member_id)

    # -- roles --------------------------------------------------------------
    def set_roles(self, actor: Actor, member_id: str, roles: list[str], context: Context) -> dict:
        self.execute(context, lambda uow: self._get(uow, member_id).set_roles(roles, by=actor))
        row = self._row(member_id)
        return {**self._public(row), "roles": json.loads(row["roles"])}

    def grant_role(self, email: str, role: str, context: Context) -> dict:
        with self.read() as conn:
            member_id = self._member_id_by_email(conn, email)
        if member_id is None:
            raise NotFound("Aucun membre avec cette adresse e-mail.")
        self.execute(context, lambda uow: self._get(uow, member_id).grant_role(role))
        return self.own_profile(member_id)

    # -- reference data -----------------------------------------------------
    def federations(self) -> list[dict]:
        with self.read() as conn:
            counts = dict(
                conn.execute(select(members.c.federation_code, func.count()).group_by(members.c.federation_code)).all()
            )
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

    # -- helpers ------------------------------------------------------------
    @staticmethod
    def _member_id_by_email(conn, email: str) -> str | None:
        return conn.execute(_MEMBER_ID_BY_EMAIL, {"email_lower": email.strip().lower()}).scalar()

    def _row(self, member_id: str) -> dict:
        with self.read() as conn:
            row = conn.execute(_MEMBER_BY_ID, {"member_id": member_id}).mappings().first()
        if row is None:
            raise NotFound("Membre introuvable.")
        return dict(row)

    @staticmethod
    def _get(uow: UnitOfWork, member_id: str) -> Member:
        member = uow.get(Member, member_id)
        if member is None:
            raise NotFound("Membre introuvable.")
        return member

    @staticmethod
    def _public(row: dict) -> dict:
        return {
            "id": row["member_id"],
            "first_name": row["first_name"],
            "last_name": row["last_name"],
            "display_name": display_name(row),
            "city": row["city"],
            "federation": federation_view(row["federation_code"]),
            "themes": json.loads(row["themes"]),
        }
