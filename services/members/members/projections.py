"""The members service's read models, built only from its events and rebuildable."""
from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Index, MetaData, String, Table, Text

from umpnet_kernel.projections import KeyedProjection, handles

from .events import (
    EmailVerified,
    MemberRegistered,
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


class MembersProjection(KeyedProjection):
    name = "members"
    table = members
    key_column = "member_id"
    json_columns = ("themes", "roles")

    @handles(MemberRegistered)
    def registered(self, row, e: MemberRegistered, recorded):
        return {
            "member_id": e.member_id,
            "email": e.email,
            "email_lower": e.email.lower(),
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


def all_projections():
    return [MembersProjection(), SessionsProjection()]
