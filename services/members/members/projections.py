"""The members service's read models, built only from its events and rebuildable,
and the queries the use cases read them with."""
from __future__ import annotations

import hashlib
from datetime import datetime, timezone

from sqlalchemy import (
    Boolean, Column, DateTime, Float, Index, MetaData, String, Table, Text, bindparam, delete, func, insert, select, true,
)

from umpnet_kernel import jsontext
from umpnet_kernel.paging import paginate
from umpnet_kernel.projections import KeyedProjection, Projection, handles

from .domain.catalogue import local_federation
from .domain.email_address import email_key
from .events import (
    ContactAccepted,
    ContactDeclined,
    ContactRemoved,
    ContactRequested,
    EmailVerificationRequested,
    EmailVerified,
    MemberErased,
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
    # Rows from before the choice existed accept requests, as a new member does.
    Column("accepts_contact_requests", Boolean, nullable=False, server_default=true()),
    Column("skills", Text, nullable=False, server_default="[]"),
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

# Contacts, one row per member and side: what the pair is to `member_id`
# ("outgoing", "incoming", "accepted"), since when. Both rows of a pair are
# written and deleted together; a pair with nothing between them has none.
contacts = Table(
    "contacts",
    read_models,
    Column("member_id", String(36), primary_key=True),
    Column("other_id", String(36), primary_key=True),
    Column("contact_id", String(36), nullable=False),
    Column("status", String(10), nullable=False),
    Column("since", DateTime(timezone=True), nullable=False),
)
Index("ix_contacts_pair", contacts.c.contact_id)

# -- talents (issue 8 item 7): written by talents.TalentsProjection -------------
# One row per member credited: `weight` the forward-decayed sum of their points
# (talent_sources: a rank by it is a rank by today's score), `breakdown` the same
# per source ({name: weight}, JSON). `talent_once`: what each member was credited
# once for already (a source's name, or "<source>:<key>", e.g. a contact's pair).
talents = Table(
    "talents",
    read_models,
    Column("member_id", String(36), primary_key=True),
    Column("weight", Float, nullable=False),
    Column("breakdown", Text, nullable=False),
)
Index("ix_talents_rank", talents.c.weight, talents.c.member_id)

talent_once = Table(
    "talent_once",
    read_models,
    Column("member_id", String(36), primary_key=True),
    Column("once_key", String(200), primary_key=True),
)

VERIFY_EMAIL, RESET_PASSWORD = "verify-email", "reset-password"


def nonce_hash(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


class MembersProjection(KeyedProjection):
    name = "members"
    table = members
    key_column = "member_id"
    # Two sign-ups with one address at once: the second is decided again and takes the "already registered" path.
    claims = ((members, ("email_lower",)),)
    json_columns = ("themes", "roles", "shown_fields", "skills")

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
            "accepts_contact_requests": True,
            "skills": [],
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
        changes["skills"] = list(e.skills)
        return {**row, **changes}

    @handles(RolesChanged)
    def roles_changed(self, row, e: RolesChanged, recorded):
        return {**row, "roles": list(e.roles)}

    @handles(MemberErased)
    def erased(self, row, e, recorded):
        return None  # here too, not only in forgetting.py: a rebuild keeps these rows in memory until its end


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


class ContactsProjection(Projection):
    """Each member's contacts and requests, both sides of a pair at once."""

    name = "contacts"
    tables = (contacts,)
    _insert = insert(contacts)
    _update = contacts.update().where(contacts.c.contact_id == bindparam("pair")).values(
        status=bindparam("new_status"), since=bindparam("new_since"))
    _delete = delete(contacts).where(contacts.c.contact_id == bindparam("pair"))

    @handles(ContactRequested)
    def requested(self, conn, e: ContactRequested, recorded):
        since = recorded.meta.occurred_at
        conn.execute(self._insert, [
            {"member_id": e.requester_id, "other_id": e.addressee_id, "contact_id": e.contact_id,
             "status": "outgoing", "since": since},
            {"member_id": e.addressee_id, "other_id": e.requester_id, "contact_id": e.contact_id,
             "status": "incoming", "since": since},
        ])

    @handles(ContactAccepted)
    def accepted(self, conn, e: ContactAccepted, recorded):
        conn.execute(self._update, {"pair": e.contact_id, "new_status": "accepted",
                                    "new_since": recorded.meta.occurred_at})

    @handles(ContactDeclined, ContactRemoved)
    def ended(self, conn, e, recorded):
        conn.execute(self._delete, {"pair": e.contact_id})


def all_projections(*more: Projection):
    """Every read model of the service; `more` (the talents, built with their sources) before the forgetting."""
    from umpnet_kernel.shredding import ForgetSubjects

    from .forgetting import FORGETTERS
    from .invitation_projections import invitation_projections

    return [MembersProjection(), SessionsProjection(), PendingLinksProjection(), ContactsProjection(),
            *invitation_projections(), members_map.MapProjection(), *more,
            # last: an erased member is forgotten by every read model (forgetting.py), a rebuild's too
            ForgetSubjects(MemberErased, "member_id", FORGETTERS)]


# -- queries ---------------------------------------------------------------
# What the use cases read, as functions of a connection: the use cases never
# see SQL, and the in-memory database of the unit tests runs the same ones.
# Statements are built once, values bound per call: building one per call
# cost SQLAlchemy more than running it.
MEMBER_BY_EMAIL_KEY = select(members).where(members.c.email_lower == bindparam("email_key"))
MEMBER_BY_ID = select(members).where(members.c.member_id == bindparam("member_id"))
SESSION_BY_TOKEN = select(sessions.c.session_id).where(sessions.c.token_hash == bindparam("token_hash"))
SESSIONS_OF_MEMBER = select(sessions.c.session_id).where(sessions.c.member_id == bindparam("member_id"))
SESSION_HOLDERS = (
    select(sessions.c.token_hash, sessions.c.expires_at, members.c.member_id, members.c.roles,
           members.c.federation_code)
    .join(members, members.c.member_id == sessions.c.member_id)
    .where(sessions.c.token_hash.in_(bindparam("token_hashes", expanding=True)))
)
LINK_HOLDER = select(pending_links.c.member_id).where(
    pending_links.c.nonce_hash == bindparam("nonce_hash"), pending_links.c.purpose == bindparam("purpose")
)
# roles is JSON text: '["member", "national_admin"]'
NATIONAL_ADMIN_COUNT = select(func.count()).select_from(members).where(members.c.roles.like('%"national_admin"%'))
MEMBERS_PER_FEDERATION = select(members.c.federation_code, func.count()).group_by(members.c.federation_code)


CONTACT_STATUS = select(contacts.c.status).where(
    contacts.c.member_id == bindparam("member_id"), contacts.c.other_id == bindparam("other_id"))
# A member's list, newest first: the key (since, other_id) is unique per member.
CONTACTS_OF_MEMBER = (
    select(contacts.c.other_id, contacts.c.status, contacts.c.since,
           members.c.first_name, members.c.last_name)
    .join(members, members.c.member_id == contacts.c.other_id)
)
CONTACTS_ORDER = (contacts.c.since.desc(), contacts.c.other_id)


def utc_aware(moment: datetime | None) -> datetime | None:
    """SQLite gives naive UTC datetimes back: the zone they were written with."""
    return moment.replace(tzinfo=timezone.utc) if moment is not None and moment.tzinfo is None else moment


def member_by_email_key(conn, key: str | None) -> dict | None:
    """The member row (every column) whose address has this key (email_address.email_key)."""
    if not key:
        return None
    found = conn.execute(MEMBER_BY_EMAIL_KEY, {"email_key": key}).mappings().first()
    return dict(found) if found is not None else None


def member_by_id(conn, member_id: str) -> dict | None:
    found = conn.execute(MEMBER_BY_ID, {"member_id": member_id}).mappings().first()
    return dict(found) if found is not None else None


NAMES_AT_ONCE = 500  # ids in one display_names call: one IN list, well under every driver's limit


def display_names_of(conn, member_ids: list[str]) -> dict[str, str]:
    """`display_name` of each verified member among `member_ids` (the others are left out)."""
    wanted = list(dict.fromkeys(member_ids))[:NAMES_AT_ONCE]
    rows = conn.execute(select(members.c.member_id, members.c.first_name, members.c.last_name)
                        .where(members.c.member_id.in_(wanted), members.c.email_verified.is_(True))).mappings()
    return {row["member_id"]: display_name(row) for row in rows}


def link_holder(conn, nonce: str, purpose: str) -> str | None:
    """Whose pending link (VERIFY_EMAIL or RESET_PASSWORD) this nonce is: a member id, or None if used or unknown."""
    return conn.execute(LINK_HOLDER, {"nonce_hash": nonce_hash(nonce), "purpose": purpose}).scalar()


def session_of_token(conn, token_hash: str) -> str | None:
    """The id of the open session with this token digest."""
    return conn.execute(SESSION_BY_TOKEN, {"token_hash": token_hash}).scalar()


def sessions_of_member(conn, member_id: str) -> list[str]:
    """The ids of a member's open sessions."""
    return list(conn.execute(SESSIONS_OF_MEMBER, {"member_id": member_id}).scalars())


def session_holders(conn, token_hashes: list[str]) -> dict[str, dict]:
    """{digest: {member_id, roles, federation_code, expires_at}} of the sessions with these
    token digests, in one query."""
    if not token_hashes:
        return {}
    return {row.token_hash: {"member_id": row.member_id, "roles": jsontext.decode(row.roles),
                             "federation_code": row.federation_code, "expires_at": utc_aware(row.expires_at)}
            for row in conn.execute(SESSION_HOLDERS, {"token_hashes": list(token_hashes)})}


def national_admin_count(conn) -> int:
    return conn.execute(NATIONAL_ADMIN_COUNT).scalar()


def members_per_federation(conn) -> dict[str, int]:
    """{local federation code: its members}; federations without members are absent."""
    return dict(conn.execute(MEMBERS_PER_FEDERATION).all())


def contact_status(conn, member_id: str, other_id: str) -> str | None:
    """What `other_id` is to `member_id`: "outgoing", "incoming", "accepted", or None."""
    return conn.execute(CONTACT_STATUS, {"member_id": member_id, "other_id": other_id}).scalar()


def contacts_of_member(conn, member_id: str, page) -> dict:
    """One page (`paging.PageRequest`) of a member's contacts and requests, as API.md lists them."""
    return paginate(conn, CONTACTS_OF_MEMBER.where(contacts.c.member_id == member_id), CONTACTS_ORDER, page,
                    row=lambda r: {"member_id": r.other_id, "display_name": display_name(r._mapping),
                                   "status": r.status}).as_dict()


# -- views: read-model rows as the RPC answers show them ------------------------
def display_name(row: dict) -> str:
    """What other members see: first name and initial, never the full name or email."""
    if row["first_name"]:
        initial = f" {row['last_name'][:1]}." if row["last_name"] else ""
        return f"{row['first_name']}{initial}"
    return "Membre"


def federation_view(code: str) -> dict:
    federation = local_federation(code)
    return {"code": code, "name": federation.name if federation else code}


def own_profile(row: dict) -> dict:
    """Everything the member sees of their own profile (API.md `GET /api/members/me`)."""
    return {
        "id": row["member_id"],
        "email": row["email"],
        "first_name": row["first_name"],
        "last_name": row["last_name"],
        "display_name": display_name(row),
        "postcode": row["postcode"],
        "city": row["city"],
        "federation": federation_view(row["federation_code"]),
        "digital_federation": True,
        "themes": jsontext.decode(row["themes"]),
        "email_verified": row["email_verified"],
        "bio": row["bio"],
        "blog_url": row["blog_url"],
        "roles": jsontext.decode(row["roles"]),
        "map_visible": row["map_visible"],
        "contact_consent": row["contact_consent"],
        "shown_fields": jsontext.decode(row["shown_fields"]),
        "accepts_contact_requests": row["accepts_contact_requests"],
        "skills": jsontext.decode(row["skills"]),
        "registered_at": utc_aware(row["registered_at"]),
    }


def public_profile(row: dict, contact: str | None = None) -> dict:
    """The display name, and only what the member chose to show; to an accepted
    contact also the email; `contact_status` if the viewer and the member are
    contacts or one asked the other (`contact`: what they are to the viewer)."""
    shown = set(jsontext.decode(row["shown_fields"]))
    profile = {"id": row["member_id"], "display_name": display_name(row)}
    if contact is not None:
        profile["contact_status"] = contact
    if contact == "accepted":
        profile["email"] = row["email"]
    if "city" in shown:
        profile["city"] = row["city"]
    if "federation" in shown:
        profile["federation"] = federation_view(row["federation_code"])
    if "themes" in shown:
        profile["themes"] = jsontext.decode(row["themes"])
    if "bio" in shown:
        profile["bio"] = row["bio"]
    if "blog_url" in shown:
        profile["blog_url"] = row["blog_url"]
    if "skills" in shown:
        profile["skills"] = jsontext.decode(row["skills"])
    return profile


def member_with_roles(row: dict) -> dict:
    """The public profile and the roles: what an admin sees of the member whose roles they set."""
    return {**public_profile(row), "roles": jsontext.decode(row["roles"])}


# Invitations and external identities keep their tables in read_models too (rebuilt with them).
from . import invitation_projections  # noqa: E402,F401
# -- the members' map: its read model and projection are in members/map.py ------
from . import map as members_map  # noqa: E402  (its table is defined on read_models, above)
