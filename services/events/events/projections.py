"""The meetings' read models, and the queries the use cases read them with.

- `meetings`: one row per meeting, as it stands, with its seat counts. Its
  position (`lat`, `lon`: the commune's) is indexed: "near a postcode" first
  takes the rows inside the circle's bounding box from the index, then keeps
  those within the exact (geodesic) distance.
- `meeting_registrations`: one row per member and meeting (confirmed or
  waitlisted; a member who leaves loses the row). `since` is the position of
  the event that put them where they are: the waitlist's order. `feed_key` is
  the keyed hash that names the member's calendar feed, so the feed's URL
  never holds the member id.
"""
from __future__ import annotations

import math
from datetime import datetime

from sqlalchemy import (
    BigInteger, Boolean, Column, DateTime, Float, Index, Integer, MetaData, String, Table, Text, and_, bindparam, delete, func, or_,
    insert, select, update,
)

from umpnet_geo import bounding_box, distance_km, lookup_postcode, within_km
from umpnet_geo.coords import EARTH_MEAN_RADIUS_KM
from umpnet_kernel.links import keyed_hash
from umpnet_kernel.paging import BadCursor, PageRequest, decode_cursor, encode_cursor, paginate, paginate_sequence
from umpnet_kernel.projections import Projection, handles
from umpnet_kernel.throttle import utc_aware

from .events import (
    AttendanceRecorded, MeetingCancelled, MeetingChanged, MeetingDrafted, MeetingPublished, RegistrantForgotten,
    RegistrationCancelled, RegistrationConfirmed, RegistrationWaitlisted, WaitlistPromoted,
)

read_models = MetaData()

meetings = Table(
    "meetings",
    read_models,
    Column("meeting_id", String(36), primary_key=True),
    Column("organizer_id", String(36), nullable=False),
    Column("title", String(300), nullable=False),
    Column("description", Text, nullable=False),
    Column("description_html", Text, nullable=False),
    Column("starts_at", DateTime(timezone=True), nullable=False),
    Column("ends_at", DateTime(timezone=True), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("address", String(300), nullable=False),
    Column("city", String(200), nullable=False),
    Column("postcode", String(5), nullable=False),
    Column("lat", Float, nullable=False),
    Column("lon", Float, nullable=False),
    Column("federation_code", String(3)),
    Column("theme", String(40), nullable=False),
    Column("capacity", Integer, nullable=False),
    Column("online_url", String(500)),
    Column("notify_radius_km", Integer, nullable=False),
    Column("status", String(10), nullable=False),
    Column("confirmed", Integer, nullable=False),
    Column("waitlisted", Integer, nullable=False),
    Column("cancel_reason", String(500)),
    Column("position", BigInteger().with_variant(Integer, "sqlite"), nullable=False),
)
# In date order with what "near, by date" keeps or passes over read from the index (migration 0005).
Index("ix_meetings_status_starts", meetings.c.status, meetings.c.starts_at, meetings.c.meeting_id,
      meetings.c.lat, meetings.c.lon)
# Covering what "near a postcode" filters on and returns: the box's rows are read from the index
# alone, without a lookup of each table row (migration 0004).
Index("ix_meetings_position", meetings.c.lat, meetings.c.lon, meetings.c.status, meetings.c.starts_at,
      meetings.c.meeting_id)
Index("ix_meetings_federation", meetings.c.federation_code, meetings.c.starts_at)
Index("ix_meetings_organizer", meetings.c.organizer_id)

registrations = Table(
    "meeting_registrations",
    read_models,
    Column("meeting_id", String(36), primary_key=True),
    Column("member_id", String(64), primary_key=True),
    Column("status", String(12), nullable=False),
    Column("since", BigInteger().with_variant(Integer, "sqlite"), nullable=False),
    Column("registered_at", DateTime(timezone=True), nullable=False),
    Column("attended", Boolean, nullable=False),
    Column("feed_key", String(64)),
)
Index("ix_meeting_registrations_order", registrations.c.meeting_id, registrations.c.status, registrations.c.since)
Index("ix_meeting_registrations_member", registrations.c.member_id)
Index("ix_meeting_registrations_feed", registrations.c.feed_key)

_m, _r = meetings.c, registrations.c
DETAIL_COLUMNS = ("organizer_id", "title", "description", "description_html", "starts_at", "ends_at", "timezone",
                  "address", "city", "postcode", "lat", "lon", "federation_code", "theme", "capacity", "online_url",
                  "notify_radius_km")
FEED_KEY_CHARS = 40


def feed_key_for(secret_key: str, member_id: str) -> str:
    """The secret that names a member's calendar feed (an HMAC of their id: no id in the URL)."""
    return keyed_hash(secret_key, "meetings-calendar", member_id)[:FEED_KEY_CHARS]


# The statements a registration runs, built once with their values bound per call: a burst
# of 500 registrations is 1,000 of them, and SQLAlchemy building and coercing a statement
# per event cost more than SQLite running it (bench/meeting_registration.py, py-spy).
_THE_MEETING = _m.meeting_id == bindparam("key_meeting")
_COUNTS = {column: update(meetings).where(_THE_MEETING).values({column: meetings.c[column] + bindparam("delta")})
           for column in ("confirmed", "waitlisted")}
_PROMOTED_COUNTS = update(meetings).where(_THE_MEETING).values(confirmed=_m.confirmed + 1,
                                                               waitlisted=_m.waitlisted - 1)
_THE_REGISTRATION = and_(_r.meeting_id == bindparam("key_meeting"), _r.member_id == bindparam("key_member"))
_REGISTERED = insert(registrations)
_PROMOTED = update(registrations).where(_THE_REGISTRATION).values(status="confirmed", since=bindparam("new_since"))
_LEFT = delete(registrations).where(_THE_REGISTRATION)


def _count(conn, meeting_id: str, column: str, delta: int) -> None:
    conn.execute(_COUNTS[column], {"key_meeting": meeting_id, "delta": delta})


class MeetingsProjection(Projection):
    name = "meetings"
    tables = (meetings,)

    def _insert(self, conn, e, recorded, status: str):
        conn.execute(insert(meetings).values(
            meeting_id=e.meeting_id, status=status, confirmed=0, waitlisted=0, position=recorded.position,
            **{c: getattr(e, c) for c in DETAIL_COLUMNS}))

    @handles(MeetingDrafted)
    def _drafted(self, conn, e, recorded):
        self._insert(conn, e, recorded, "draft")

    @handles(MeetingPublished)
    def _published(self, conn, e, recorded):
        if recorded.version == 1:
            self._insert(conn, e, recorded, "published")
        else:
            conn.execute(update(meetings).where(_m.meeting_id == e.meeting_id).values(status="published"))

    @handles(MeetingChanged)
    def _changed(self, conn, e, recorded):
        conn.execute(update(meetings).where(_m.meeting_id == e.meeting_id).values(
            **{c: getattr(e, c) for c in DETAIL_COLUMNS}))

    @handles(MeetingCancelled)
    def _cancelled(self, conn, e, recorded):
        conn.execute(update(meetings).where(_m.meeting_id == e.meeting_id).values(
            status="cancelled", cancel_reason=e.reason))

    @handles(RegistrationConfirmed)
    def _confirmed(self, conn, e, recorded):
        _count(conn, e.meeting_id, "confirmed", 1)

    @handles(RegistrationWaitlisted)
    def _waitlisted(self, conn, e, recorded):
        _count(conn, e.meeting_id, "waitlisted", 1)

    @handles(WaitlistPromoted)
    def _promoted(self, conn, e, recorded):
        conn.execute(_PROMOTED_COUNTS, {"key_meeting": e.meeting_id})

    @handles(RegistrationCancelled)
    def _left(self, conn, e, recorded):
        _count(conn, e.meeting_id, "confirmed" if e.was == "confirmed" else "waitlisted", -1)


class RegistrationsProjection(Projection):
    name = "meeting_registrations"
    tables = (registrations,)

    def __init__(self, secret_key: str):
        self.secret_key = secret_key

    def _where(self, e):
        return and_(_r.meeting_id == e.meeting_id, _r.member_id == e.member_id)

    @handles(RegistrationConfirmed, RegistrationWaitlisted)
    def _registered(self, conn, e, recorded):
        status = "confirmed" if isinstance(e, RegistrationConfirmed) else "waitlisted"
        conn.execute(_REGISTERED, {
            "meeting_id": e.meeting_id, "member_id": e.member_id, "status": status, "since": recorded.position,
            "registered_at": recorded.meta.occurred_at, "attended": False,
            "feed_key": feed_key_for(self.secret_key, e.member_id)})

    @handles(WaitlistPromoted)
    def _promoted(self, conn, e, recorded):
        conn.execute(_PROMOTED, {"key_meeting": e.meeting_id, "key_member": e.member_id, "new_since": recorded.position})

    @handles(RegistrationCancelled)
    def _left(self, conn, e, recorded):
        conn.execute(_LEFT, {"key_meeting": e.meeting_id, "key_member": e.member_id})

    @handles(AttendanceRecorded)
    def _attended(self, conn, e, recorded):
        conn.execute(update(registrations).where(self._where(e)).values(attended=True))

    @handles(RegistrantForgotten)
    def _forgotten(self, conn, e, recorded):
        conn.execute(update(registrations).where(self._where(e)).values(member_id=e.alias, feed_key=None))


def all_projections(secret_key: str) -> list[Projection]:
    return [MeetingsProjection(), RegistrationsProjection(secret_key)]


# -- queries -------------------------------------------------------------------------
def meeting_row(conn, meeting_id: str) -> dict | None:
    row = conn.execute(select(meetings).where(_m.meeting_id == meeting_id)).mappings().first()
    return dict(row) if row is not None else None


def status_now(row: dict, now: datetime) -> str:
    """published, draft, cancelled; a published meeting whose end passed is `past`."""
    if row["status"] == "published" and utc_aware(row["ends_at"]) <= now:
        return "past"
    return row["status"]


def summary(row: dict, now: datetime, distance: float | None = None) -> dict:
    """A meeting as lists show it (API.md "Meetings and trainings")."""
    item = {
        "id": row["meeting_id"], "title": row["title"],
        "starts_at": utc_aware(row["starts_at"]).isoformat(), "ends_at": utc_aware(row["ends_at"]).isoformat(),
        "timezone": row["timezone"], "city": row["city"], "postcode": row["postcode"],
        "lat": row["lat"], "lon": row["lon"], "capacity": row["capacity"],
        "seats_left": max(row["capacity"] - row["confirmed"], 0), "confirmed_count": row["confirmed"],
        "waitlist_count": row["waitlisted"], "federation": row["federation_code"],
        "scope": "local" if row["federation_code"] else "national", "theme": row["theme"],
        "status": status_now(row, now), "online": bool(row["online_url"]),
    }
    if distance is not None:
        item["distance_km"] = round(distance, 2)
    return item


def meeting_view(row: dict, now: datetime) -> dict:
    return {**summary(row, now), "description": row["description"], "description_html": row["description_html"],
            "address": row["address"], "online_url": row["online_url"], "organizer_id": row["organizer_id"],
            "notify_radius_km": row["notify_radius_km"], "cancel_reason": row["cancel_reason"]}


def list_meetings(conn, page: PageRequest, now: datetime, *, start: datetime, near: tuple[float, float] | None,
                  radius_km: float, federation: str | None, themes: tuple[str, ...], sort: str) -> dict:
    """Published meetings starting from `start`; by date (then id), or by distance when `near`."""
    conditions = [_m.status == "published", _m.starts_at >= start]
    if federation:
        conditions.append(_m.federation_code == federation)
    if themes:
        conditions.append(_m.theme.in_(themes))
    if near is None:
        result = paginate(conn, select(meetings).where(*conditions), [_m.starts_at, _m.meeting_id], page)
        return {"items": [summary(r, now) for r in result.items], "next_cursor": result.next_cursor}
    # Near a point: the bounding box on the indexed position first, then the exact distance.
    south, north, west, east = bounding_box(*near, radius_km)
    box = (_m.lat.between(south, north), _m.lon.between(west, east))
    after = None
    if page.cursor is not None:
        after = decode_cursor(page.cursor)
        first = (int, float) if sort == "distance" else str
        if len(after) != 2 or not isinstance(after[0], first) or isinstance(after[0], bool) \
                or not isinstance(after[1], str):
            raise BadCursor()
        if sort == "distance" and not math.isfinite(after[0]):
            raise BadCursor()  # a NaN would never reach the radius: the rings would grow forever
        if sort != "distance":
            _cursor_moment(after[0])  # a forged one: BadCursor here, not a ValueError in a query
    if sort == "distance":
        return _near_by_distance(conn, page, now, near, radius_km, conditions, after)
    in_box = conn.execute(select(func.count()).select_from(meetings).where(*box)).scalar()  # the index alone
    if in_box > DENSE_BOX:
        return _near_by_date(conn, page, now, near, radius_km, conditions, box, after)
    # A sparse box: its rows' keys read through the position's index (SQLite's
    # planner, without statistics, would rather read every upcoming meeting of France through the
    # (status, starts_at) index: `status || ''` keeps that one out), kept if within the radius.
    conditions[0] = (_m.status + "") == "published"
    rows = conn.execute(select(_m.meeting_id, _m.starts_at, _m.lat, _m.lon).where(*conditions, *box)).all()
    found = []
    for row in rows:
        distance = within_km(near, (row.lat, row.lon), radius_km)
        if distance is not None:
            found.append((round(distance, 3), utc_aware(row.starts_at).isoformat(), row.meeting_id))
    found.sort(key=lambda f: (f[1], f[2]))
    if after is not None:
        found = [f for f in found if (f[1], f[2]) > tuple(after)]
    ids = [f[2] for f in found[:page.limit]]
    next_cursor = encode_cursor(list(found[page.limit - 1][1:])) if len(found) > page.limit else None
    return {"items": _summaries(conn, ids, now, near), "next_cursor": next_cursor}


def _cursor_moment(text: str) -> datetime:
    """The start a "near, by date" cursor names (one `list_meetings` made: ISO 8601 with its offset)."""
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadCursor() from None
    if moment.tzinfo is None:
        raise BadCursor()
    return moment


KM_PER_DEGREE = EARTH_MEAN_RADIUS_KM * math.pi / 180


def flat_distance_margin(lat: float, radius_km: float) -> float:
    """How far the flat-earth distance (degrees of longitude scaled by the cosine of the centre's
    latitude) may stray from the haversine within `radius_km` of `lat`, as a ratio: the cosine
    across the circle differs from the centre's by at most tan(latitude) x the circle's angular
    radius, and the sphere's curvature adds less than its square; near the radius `within_km`
    answers the ellipsoid's geodesic, within 0.6 % of the sphere. Generous by design: a margin
    too wide costs rows read, never a wrong order."""
    angle = radius_km / EARTH_MEAN_RADIUS_KM
    farthest = min(math.radians(abs(lat)) + angle, math.radians(89.0))
    return 1.0 + math.tan(farthest) * angle + angle * angle + 0.008


def _near_by_distance(conn, page, now, near, radius_km, conditions, after) -> dict:
    """Nearest first, in rings, each read in the database's own order of distance.

    A ring's bounding box is read from the position's covering index, its rows ordered by the
    flat-earth squared distance (an expression the database computes: degrees of latitude, and
    of longitude scaled by the cosine at the centre) and cut at `wanted`; their haversine is
    computed here. A row not seen is outside the ring's box (farther than the ring), or was cut
    (at least as far, by the flat measure, as the last one returned, hence by the haversine at
    least that divided by `flat_distance_margin`). Once the page's last distance is below both
    bounds, no row unseen could belong to it; otherwise the cut or the ring grows. A city's
    first page reads a few hundred index entries, not the ~19,000 of its 30 km box."""
    lat0, lon0 = near
    margin = flat_distance_margin(lat0, radius_km)
    flat = (_m.lat - lat0) * (_m.lat - lat0) + (_m.lon - lon0) * (_m.lon - lon0) * math.cos(math.radians(lat0)) ** 2
    where = [(_m.status + "") == "published", *conditions[1:]]  # the position's index (see list_meetings)
    if after is not None:  # nothing nearer than the cursor by the haversine can be this far by the flat measure
        where.append(flat >= (max(after[0] - 0.001, 0.0) / margin / KM_PER_DEGREE) ** 2)  # 0.001: the key's rounding
    ring = min(radius_km, max(radius_km / 8, (after[0] if after is not None else 0.0) * 1.25))
    wanted = 2 * (page.limit + 1)
    while True:
        south, north, west, east = bounding_box(lat0, lon0, ring)
        rows = conn.execute(select(_m.meeting_id, _m.lat, _m.lon, flat.label("flat"))
                            .where(*where, _m.lat.between(south, north), _m.lon.between(west, east))
                            .order_by(flat, _m.meeting_id).limit(wanted)).all()
        found = []
        for row in rows:
            distance = within_km(near, (row.lat, row.lon), radius_km)
            if distance is not None:
                key = (round(distance, 3), row.meeting_id)
                if after is None or key > (after[0], after[1]):
                    found.append(key)
        found.sort()
        cut = len(rows) == wanted
        beyond_ring = ring if ring < radius_km else math.inf  # what is outside the box is this far at least
        beyond_cut = KM_PER_DEGREE * math.sqrt(rows[-1].flat) / margin if cut else math.inf
        unseen = min(beyond_ring, beyond_cut)  # no row unseen is nearer than this
        if unseen == math.inf or unseen > radius_km:
            break  # every row of the circle was seen
        if len(found) > page.limit and found[page.limit][0] + 0.001 < unseen:  # 0.001: the key's rounding
            break
        if beyond_cut <= beyond_ring:
            wanted *= 4
        else:
            ring = min(ring * 2, radius_km)
    ids = [f[1] for f in found[:page.limit]]
    next_cursor = encode_cursor(list(found[page.limit - 1])) if len(found) > page.limit else None
    return {"items": _summaries(conn, ids, now, near), "next_cursor": next_cursor}


DENSE_BOX = 1000  # meetings in the bounding box above which "near, by date" reads in date order
_CHUNK = 200


def _near_by_date(conn, page, now, near, radius_km, conditions, box, after) -> dict:
    """A dense box (a city): the upcoming meetings in date order, through the (status, starts_at)
    index, the box's and then the circle's kept, until the page is full: most rows of a dense box
    are within the circle, so a page reads little more than itself."""
    found: list[tuple[str, str]] = []
    while len(found) <= page.limit:
        query = select(_m.meeting_id, _m.starts_at, _m.lat, _m.lon).where(*conditions, *box)
        if after is not None:
            moment = _cursor_moment(after[0])
            query = query.where(or_(_m.starts_at > moment, and_(_m.starts_at == moment, _m.meeting_id > after[1])))
        rows = conn.execute(query.order_by(_m.starts_at, _m.meeting_id).limit(_CHUNK)).all()
        for row in rows:
            if within_km(near, (row.lat, row.lon), radius_km) is not None:
                found.append((utc_aware(row.starts_at).isoformat(), row.meeting_id))
        if len(rows) < _CHUNK:
            break
        after = [utc_aware(rows[-1].starts_at).isoformat(), rows[-1].meeting_id]
    ids = [f[1] for f in found[:page.limit]]
    next_cursor = encode_cursor(list(found[page.limit - 1])) if len(found) > page.limit else None
    return {"items": _summaries(conn, ids, now, near), "next_cursor": next_cursor}


def _summaries(conn, ids: list[str], now: datetime, near) -> list[dict]:
    """The page's meetings read whole, in the page's order, with geopy's distance."""
    full = {r["meeting_id"]: r for r in conn.execute(select(meetings).where(_m.meeting_id.in_(ids))).mappings()}
    return [summary(full[i], now, distance_km(near, (full[i]["lat"], full[i]["lon"]))) for i in ids if i in full]


def organized_by(conn, member_id: str, page: PageRequest, now: datetime) -> dict:
    query = select(meetings).where(_m.organizer_id == member_id)
    result = paginate(conn, query, [_m.starts_at.desc(), _m.meeting_id], page)
    return {"items": [summary(r, now) for r in result.items], "next_cursor": result.next_cursor}


def registrants(conn, meeting_id: str, page: PageRequest) -> dict:
    """Confirmed first (in the order they got their seat), then the waitlist in its order.
    A meeting's registrants are a few hundred at most: sorted and paged in memory."""
    rows = conn.execute(select(_r.member_id, _r.status, _r.since, _r.registered_at, _r.attended)
                        .where(_r.meeting_id == meeting_id)).all()
    rows = sorted(rows, key=lambda r: (r.status != "confirmed", r.since))
    items, waiting = [], 0
    for row in rows:
        entry = {"member_id": row.member_id, "status": row.status, "attended": bool(row.attended),
                 "registered_at": utc_aware(row.registered_at).isoformat()}
        if row.status == "waitlisted":
            waiting += 1
            entry["position"] = waiting
        items.append(entry)
    return paginate_sequence(items, lambda i: (i["member_id"],), page).as_dict()


def waitlist_position(conn, meeting_id: str, since: int) -> int:
    return conn.execute(select(func.count()).where(
        _r.meeting_id == meeting_id, _r.status == "waitlisted", _r.since <= since)).scalar()


def registration_of(conn, meeting_id: str, member_id: str) -> dict | None:
    row = conn.execute(select(registrations).where(
        _r.meeting_id == meeting_id, _r.member_id == member_id)).mappings().first()
    if row is None:
        return None
    answer = {"status": row["status"], "attended": bool(row["attended"])}
    if row["status"] == "waitlisted":
        answer["position"] = waitlist_position(conn, meeting_id, row["since"])
    return answer


def registrations_of(conn, member_id: str | None, now: datetime, *, feed_key: str | None = None,
                     upcoming: bool = True, limit: int = 500) -> list[dict]:
    """A member's meetings (by id, or by their feed's key), soonest first, with their status there."""
    query = select(meetings, _r.status.label("registration")).join(registrations, _r.meeting_id == _m.meeting_id)
    query = query.where(_r.feed_key == feed_key) if feed_key is not None else query.where(_r.member_id == member_id)
    if upcoming:
        query = query.where(_m.ends_at > now)
    rows = conn.execute(query.order_by(_m.starts_at, _m.meeting_id).limit(limit)).mappings().all()
    return [dict(row) for row in rows]


def meeting_ids_of(conn, member_id: str) -> list[str]:
    return list(conn.execute(select(_r.meeting_id).where(_r.member_id == member_id)).scalars())


def upcoming_count(conn, now: datetime) -> int:
    return int(conn.execute(select(func.count()).where(_m.status == "published", _m.starts_at > now)).scalar())


def personal_data_of(conn, member_id: str) -> dict:
    joined = conn.execute(select(_m.meeting_id, _m.title, _m.starts_at, _r.status, _r.attended, _r.registered_at)
                          .join(registrations, _r.meeting_id == _m.meeting_id)
                          .where(_r.member_id == member_id)).all()
    organized = conn.execute(select(_m.meeting_id, _m.title, _m.starts_at, _m.status)
                             .where(_m.organizer_id == member_id)).all()
    return {
        "meeting_registrations": [
            {"meeting_id": r.meeting_id, "title": r.title, "starts_at": utc_aware(r.starts_at).isoformat(),
             "status": r.status, "attended": bool(r.attended),
             "registered_at": utc_aware(r.registered_at).isoformat()} for r in joined],
        "meetings_organized": [
            {"meeting_id": r.meeting_id, "title": r.title, "starts_at": utc_aware(r.starts_at).isoformat(),
             "status": r.status} for r in organized],
    }


def lookup_place(postcode: str):
    """Where a searched postcode is: the shipped data (a search never goes to a third party)."""
    return lookup_postcode(str(postcode).strip())
