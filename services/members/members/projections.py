"""The members service's read models, built only from its events and rebuildable."""
from __future__ import annotations

import hashlib

from sqlalchemy import Boolean, Column, DateTime, Index, MetaData, String, Table, Text, bindparam, delete, func, insert, select

from umpnet_kernel.projections import KeyedProjection, Projection, handles

from .domain.email_address import email_key
from .events import (
    EmailVerificationRequested,
    EmailVerified,
    MemberRegistered,
    PasswordResetCompleted,
    PasswordResetRequested,
    PasswordSet,
    ProfileUpdated,
    RolesChanged,
    SessionClosed,
    SessionOpened,
)

read_models = MetaData()

members = Table(
    "members",
    read_models,
    Column("member_id", String(36), primary_key=True),
    Column("email", String(320), nullable=False),
    # The address's key (domain.email_address.email_key: NFKC, case-folded).
    # Unique: a second registration with the same address fails in the same
    # transaction as its append, even when two arrive at once.
    Column("email_lower", String(320), nullable=False, unique=True),
    Column("password_hash", String(200)),
    Column("first_name", String(100), nullable=False),
    Column("last_name", String(100), nullable=False),
    Column("postcode", String(5), nullable=False),
    Column("city", String(100), nullable=False),
    Column("federation_code", String(10), nullable=False),
    Column("themes", Text, nullable=False),
    Column("bio", Text, nullable=False),
    Column("blog_url", String(500)),
    Column("roles", Text, nullable=False),
    Column("map_visible", Boolean, nullable=False),
    Column("contact_consent", Boolean, nullable=False),
    Column("email_verified", Boolean, nullable=False),
    Column("registered_at", DateTime(timezone=True), nullable=False),
    Column("shown_fields", Text, nullable=False, server_default="[]"),
)
Index("ix_members_federation", members.c.federation_code)

sessions = Table(
    "sessions",
    read_models,
    Column("token_hash", String(64), primary_key=True),
    Column("session_id", String(36), nullable=False),
    Column("member_id", String(36), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)
Index("ix_sessions_member", sessions.c.member_id)

# Emailed links not used yet, to find whose link a token is. Only a digest of
# the nonce is kept (the nonce itself, in the events, is useless without the
# secret key anyway).
pending_links = Table(
    "pending_links",
    read_models,
    Column("nonce_hash", String(64), primary_key=True),
    Column("member_id", String(36), nullable=False),
    Column("purpose", String(20), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)
Index("ix_pending_links_member", pending_links.c.member_id)

VERIFY_EMAIL, RESET_PASSWORD = "verify-email", "reset-password"


def nonce_hash(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


class MembersProjection(KeyedProjection):
    name = "members"
    table = members
    key_column = "member_id"
    # Two sign-ups with one address at once: the second is decided again and takes the "already registered" path.
    claims = ((members, ("email_lower",)),)
    json_columns = ("themes", "roles", "shown_fields")

    @handles(MemberRegistered)
    def registered(self, row, e: MemberRegistered, recorded):
        return {
            "member_id": e.member_id,
            "email": e.email,
            "email_lower": email_key(e.email),
            "password_hash": None,
            "first_name": e.first_name,
            "last_name": e.last_name,
            "postcode": e.postcode,
            "city": e.city,
            "federation_code": e.federation_code,
            "themes": list(e.themes),
            "bio": "",
            "blog_url": None,
            "roles": ["member"],
            "map_visible": False,
            "contact_consent": False,
            "email_verified": False,
            "registered_at": recorded.meta.occurred_at,
            "shown_fields": [],
        }

    @handles(PasswordSet)
    def password_set(self, row, e: PasswordSet, recorded):
        return {**row, "password_hash": e.password_hash}

    @handles(EmailVerified)
    def verified(self, row, e, recorded):
        return {**row, "email_verified": True}

    @handles(ProfileUpdated)
    def profile_updated(self, row, e: ProfileUpdated, recorded):
        changes = {k: v for k, v in e.__dict__.items() if k != "member_id"}
        changes["themes"] = list(e.themes)
        changes["shown_fields"] = list(e.shown_fields)
        return {**row, **changes}

    @handles(RolesChanged)
    def roles_changed(self, row, e: RolesChanged, recorded):
        return {**row, "roles": list(e.roles)}


class SessionsProjection(KeyedProjection):
    name = "sessions"
    table = sessions
    key_column = "token_hash"

    @handles(SessionOpened)
    def opened(self, row, e: SessionOpened, recorded):
        return {"token_hash": e.token_hash, "session_id": e.session_id, "member_id": e.member_id, "expires_at": e.expires_at}

    @handles(SessionClosed)
    def closed(self, row, e, recorded):
        return None


class PendingLinksProjection(Projection):
    """Links that still work: a use of one kind consumes every link of that kind."""

    name = "pending_links"
    tables = (pending_links,)
    _insert = insert(pending_links)
    _delete = delete(pending_links).where(
        pending_links.c.member_id == bindparam("member"), pending_links.c.purpose == bindparam("kind")
    )

    def _add(self, conn, e, purpose):
        if e.link_nonce:  # upcast v1 verification requests have none
            conn.execute(self._insert, {"nonce_hash": nonce_hash(e.link_nonce), "member_id": e.member_id,
                                        "purpose": purpose, "expires_at": e.expires_at})

    @handles(EmailVerificationRequested)
    def verification_requested(self, conn, e, recorded):
        self._add(conn, e, VERIFY_EMAIL)

    @handles(PasswordResetRequested)
    def reset_requested(self, conn, e, recorded):
        self._add(conn, e, RESET_PASSWORD)

    @handles(EmailVerified)
    def verified(self, conn, e, recorded):
        conn.execute(self._delete, {"member": e.member_id, "kind": VERIFY_EMAIL})

    @handles(PasswordResetCompleted)
    def reset_completed(self, conn, e, recorded):
        conn.execute(self._delete, {"member": e.member_id, "kind": RESET_PASSWORD})


def all_projections():
    return [MembersProjection(), SessionsProjection(), PendingLinksProjection()]


# -- queries ---------------------------------------------------------------
# The queries the use cases run, built once with their values bound per call:
# building a statement per call cost SQLAlchemy more than running it.
MEMBER_BY_EMAIL_KEY = select(members).where(members.c.email_lower == bindparam("email_key"))
MEMBER_BY_ID = select(members).where(members.c.member_id == bindparam("member_id"))
SESSION_BY_TOKEN = select(sessions).where(sessions.c.token_hash == bindparam("token_hash"))
SESSIONS_OF_MEMBER = select(sessions.c.session_id).where(sessions.c.member_id == bindparam("member_id"))
SESSION_HOLDER = (
    select(sessions.c.expires_at, members.c.member_id, members.c.roles, members.c.federation_code)
    .join(members, members.c.member_id == sessions.c.member_id)
    .where(sessions.c.token_hash == bindparam("token_hash"))
)
LINK_HOLDER = select(pending_links.c.member_id).where(
    pending_links.c.nonce_hash == bindparam("nonce_hash"), pending_links.c.purpose == bindparam("purpose")
)
# roles is JSON text: '["member", "national_admin"]'
NATIONAL_ADMIN_COUNT = select(func.count()).select_from(members).where(members.c.roles.like('%"national_admin"%'))
MEMBERS_PER_FEDERATION = select(members.c.federation_code, func.count()).group_by(members.c.federation_code)
