"""The recipients directory: who the members are, where they live (their
commune's position), what they follow and whether they accept the party's
emails, learnt from members' public events, never asked for at send time.

A projection of `mailer.RecipientNoted` (domain/recipient.py), so a rebuild
gives it again; the events are sealed with the member's key, and the row goes
at `members.MemberErased` (privacy.py's forgetters, in a rebuild too). An
erased member's late events (another queue) are ignored: their forgotten
stream exists.
"""
from __future__ import annotations


from sqlalchemy import Boolean, Column, Float, Index, Integer, String, Table, Text, bindparam, delete, false, select, true

from umpnet_geo import bounding_box, lookup_postcode
from umpnet_kernel import jsontext
from umpnet_kernel.application import UnitOfWork
from umpnet_kernel.messages import IncomingEvent
from umpnet_kernel.projections import KeyedProjection, handles

from .domain.recipient import Profile, Recipient
from .events import RecipientNoted
from .registry import forgets, forgotten_stream, read_models

recipients = Table(
    "recipients",
    read_models,
    Column("member_id", String(36), primary_key=True),
    Column("email", String(320), nullable=False),  # "" until members.MemberRegistered is known
    Column("first_name", Text, nullable=False),
    Column("lat", Float),
    Column("lon", Float),
    Column("federation_code", String(3), nullable=False),
    Column("themes", Text, nullable=False),  # JSON list of slugs
    Column("contact_consent", Boolean, nullable=False),
    Column("verified", Boolean, nullable=False),
    Column("announcements_off", Boolean, nullable=False),  # unsubscribed from meeting announcements
    Column("display_name", Text, nullable=False),  # first name and initial (blogs.py: a blog's owner)
    Column("roles", Text, nullable=False),  # JSON list (members.RolesChanged): campaigns' segments
    Column("campaigns_off", Boolean, nullable=False),  # unsubscribed from campaigns
)
Index("ix_recipients_federation", recipients.c.federation_code, recipients.c.member_id)
Index("ix_recipients_position", recipients.c.lat, recipients.c.lon)


class RecipientsProjection(KeyedProjection):
    name = "recipients"
    table = recipients
    key_column = "member_id"
    json_columns = ("themes", "roles")

    @handles(RecipientNoted)
    def noted(self, row, e: RecipientNoted, recorded):
        # a profile or a verification before the sign-up is kept: the address comes later.
        # Erased (its key gone): the fields load as placeholders, and the forgetters drop the row.
        return {"member_id": e.member_id, "email": e.email, "first_name": e.first_name,
                "lat": e.lat or None, "lon": e.lon or None, "federation_code": e.federation_code or "",
                "themes": list(e.themes), "contact_consent": e.contact_consent, "verified": e.verified,
                "announcements_off": e.announcements_off, "display_name": e.display_name or "",
                "roles": list(e.roles), "campaigns_off": e.campaigns_off}


@forgets
def forget_recipient(conn, member_id: str) -> None:
    conn.execute(delete(recipients).where(recipients.c.member_id == member_id))


def _position(postcode: str) -> tuple[float | None, float | None]:
    place = lookup_postcode(postcode or "")
    return (place.lat, place.lon) if place else (None, None)


def display_name(first_name: str, last_name: str) -> str:
    """What other members see of a member: first name and initial (as the members service shows it)."""
    first, last = (first_name or "").strip(), (last_name or "").strip()
    if not first:
        return ""
    return f"{first} {last[:1]}." if last else first


def _profile(data: dict) -> Profile:
    lat, lon = _position(data.get("postcode") or "")
    return Profile(first_name=data.get("first_name") or "", lat=lat, lon=lon,
                   federation_code=data.get("federation_code") or "", themes=tuple(data.get("themes") or ()),
                   contact_consent=bool(data.get("contact_consent", False)),
                   display_name=display_name(data.get("first_name") or "", data.get("last_name") or ""))


class NotYetKnown(Exception):
    """What an email needs has not reached the mailer yet (another queue): retried later."""


_RECIPIENT = select(recipients).where(recipients.c.member_id == bindparam("member_id"))


def recipient_of(uow: UnitOfWork, member_id: str, strict: bool = True):
    """The member's directory row, None when they were erased; when their address
    has not come yet, raises `NotYetKnown` (`strict`) or answers None."""
    row = uow.conn.execute(_RECIPIENT, {"member_id": member_id}).mappings().first()
    if row is not None and row["email"]:
        return row
    if not strict or uow.store.stream_version(uow.conn, forgotten_stream(member_id)):
        return None
    raise NotYetKnown(f"member {member_id} is not in the directory yet")


def first_name_of(conn, member_id: str | None) -> str:
    if not member_id:
        return ""
    row = conn.execute(_RECIPIENT, {"member_id": member_id}).mappings().first()
    return row["first_name"] if row is not None else ""


_c = recipients.c
_NEAR = (
    select(_c.member_id, _c.email, _c.first_name, _c.lat, _c.lon, _c.themes)
    .where(_c.verified == true(), _c.contact_consent == true(), _c.announcements_off == false(), _c.email != "",
           _c.lat.between(bindparam("lat_min"), bindparam("lat_max")),
           _c.lon.between(bindparam("lon_min"), bindparam("lon_max")),
           _c.themes.like(bindparam("theme_like"), escape="\\"),
           _c.member_id > bindparam("after"))
    .order_by(_c.member_id)
    .limit(bindparam("limit", type_=Integer))
)


def _like_literal(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def candidates_near(conn, lat: float, lon: float, radius_km: float, theme: str, after: str, limit: int) -> list:
    """The next page (keyset on member id) of verified, consenting members whose
    commune is in the box around (lat, lon) and whose themes seem to hold `theme`:
    the caller checks the distance, and the theme exactly."""
    south, north, west, east = bounding_box(lat, lon, radius_km)
    return conn.execute(_NEAR, {"lat_min": south, "lat_max": north, "lon_min": west, "lon_max": east, "theme_like": f'%{_like_literal(jsontext.encode(theme))}%',
                                "after": after, "limit": limit}).mappings().all()


class Directory:
    """Mixed into `MailerApp`: members' public events → `Recipient` (domain/recipient.py)."""

    def record_members_events(self, incomings: list[IncomingEvent]) -> None:
        self.execute_many([self._recipient_command(incoming) for incoming in incomings])

    def _recipient_command(self, incoming: IncomingEvent):
        data, kind = incoming.payload, incoming.event_type

        def command(uow: UnitOfWork):
            if not uow.first_delivery("mailer.directory", incoming.event_id):
                return
            member_id = data["member_id"]
            if uow.store.stream_version(uow.conn, forgotten_stream(member_id)):
                return  # erased: a late event of theirs brings nothing back
            recipient = uow.get(Recipient, member_id)
            if recipient is None:
                recipient = Recipient(member_id)
                uow.add(recipient)
            if kind == "members.MemberRegistered":
                recipient.registered(data["email"], _profile(data), incoming.stream_version)
            elif kind == "members.ProfileUpdated":
                recipient.profile_updated(_profile(data), incoming.stream_version)
            elif kind == "members.EmailVerified":
                recipient.verified()
            elif kind == "members.RolesChanged":
                recipient.roles_changed(tuple(data.get("roles") or ()), incoming.stream_version)

        return incoming.context(), command

    @staticmethod
    def directory_entry_in(conn, member_id: str) -> dict | None:
        row = conn.execute(_RECIPIENT, {"member_id": member_id}).mappings().first()
        return dict(row) if row is not None else None

    def directory_entry(self, member_id: str) -> dict | None:
        with self.read() as conn:
            row = conn.execute(_RECIPIENT, {"member_id": member_id}).mappings().first()
        if row is None:
            return None
        return {**dict(row), "themes": jsontext.decode(row["themes"]), "roles": jsontext.decode(row["roles"])}
