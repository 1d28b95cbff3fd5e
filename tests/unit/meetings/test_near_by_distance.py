""""Near a postcode, by distance" read in rings in the database's flat-earth order gives exactly
the pages a brute force gives: every meeting's haversine, sorted, cut into pages."""
import random
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import insert

from events import projections as p
from umpnet_geo import all_postcodes, lookup_postcode, within_km
from umpnet_kernel.database import Database
from umpnet_kernel.paging import PageRequest

NOW = datetime(2026, 12, 3, 12, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def db(tmp_path_factory):
    from umpnet_kernel.manifest import service
    from umpnet_kernel.migrations import upgrade_to_head

    url = f"sqlite:///{tmp_path_factory.mktemp('near')}/events.db"
    upgrade_to_head(service("events"), url)
    database = Database(url)
    rng = random.Random(7)
    codes = [c for c in all_postcodes() if c[:2] in ("75", "92", "93", "94", "77", "78", "91", "95", "23", "87")]
    rows = []
    for n in range(6000):
        place = lookup_postcode(rng.choice(codes))  # many meetings share a postcode's point: ties
        start = NOW + timedelta(hours=rng.randint(-48, 24 * 60))
        status = rng.choice(["published"] * 8 + ["draft", "cancelled"])
        rows.append(dict(meeting_id=str(uuid.UUID(int=rng.getrandbits(128))), organizer_id="o", title=f"R{n}",
                         description="d", description_html="d", starts_at=start, ends_at=start + timedelta(hours=2),
                         timezone="Europe/Paris", address="a", city=place.city, postcode=place.postcode,
                         lat=place.lat, lon=place.lon, federation_code=None, theme=rng.choice(["economie", "europe"]),
                         capacity=50, online_url=None, notify_radius_km=30, status=status, confirmed=0, waitlisted=0,
                         cancel_reason=None, position=n))
    with database.write() as conn:
        conn.execute(insert(p.meetings), rows)
    yield database, rows
    database.dispose()


def brute_force(rows, near, radius_km, themes):
    keys = []
    for row in rows:
        distance = within_km(near, (row["lat"], row["lon"]), radius_km)
        if distance is not None and row["status"] == "published" and row["starts_at"] >= NOW \
                and (not themes or row["theme"] in themes):
            keys.append((round(distance, 3), row["meeting_id"]))
    return [meeting_id for _, meeting_id in sorted(keys)]


def paged(conn, near, radius_km, limit, themes):
    ids, cursor = [], None
    while True:
        page = p.list_meetings(conn, PageRequest(limit, cursor), NOW, start=NOW, near=near, radius_km=radius_km,
                               federation=None, themes=themes, sort="distance")
        ids += [m["id"] for m in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return ids


@pytest.mark.parametrize("postcode, radius_km", [("75011", 30), ("75011", 5), ("23000", 30), ("23000", 120),
                                                 ("92100", 500), ("87000", 1)])
@pytest.mark.parametrize("limit", [1, 7, 50])
def test_every_page_is_the_brute_forces(db, postcode, radius_km, limit):
    database, rows = db
    place = lookup_postcode(postcode)
    near = (place.lat, place.lon)
    expected = brute_force(rows, near, radius_km, ())
    with database.read() as conn:
        if len(expected) <= 60 * limit:
            got = paged(conn, near, radius_km, limit, ())
        else:  # hundreds of pages through thousands: the first 60 pages are enough
            got, cursor = [], None
            for _ in range(60):
                page = p.list_meetings(conn, PageRequest(limit, cursor), NOW, start=NOW, near=near,
                                       radius_km=radius_km, federation=None, themes=(), sort="distance")
                got += [m["id"] for m in page["items"]]
                cursor = page["next_cursor"]
            expected = expected[:60 * limit]
    assert got == expected and len(expected) > 0


def test_a_theme_filter_keeps_the_order(db):
    database, rows = db
    place = lookup_postcode("75011")
    near = (place.lat, place.lon)
    with database.read() as conn:
        assert paged(conn, near, 30, 50, ("europe",)) == brute_force(rows, near, 30, ("europe",))


def test_the_flat_margin_holds_where_it_is_used():
    """The flat-earth distance stays within the margin of the haversine inside the circle
    (the order's correctness rests on it): checked on random points of many circles."""
    import math

    rng = random.Random(3)
    for _ in range(3000):
        lat0, lon0 = rng.uniform(-60, 60), rng.uniform(-170, 170)
        radius = rng.choice([1, 30, 120, 500])
        margin = p.flat_distance_margin(lat0, radius)
        south, north, west, east = p.bounding_box(lat0, lon0, radius)
        lat, lon = rng.uniform(south, north), rng.uniform(west, east)
        exact = within_km((lat0, lon0), (lat, lon), radius)
        if exact is None or exact < 1e-6:
            continue
        flat = p.KM_PER_DEGREE * math.sqrt((lat - lat0) ** 2 + ((lon - lon0) * math.cos(math.radians(lat0))) ** 2)
        assert exact / margin <= flat <= exact * margin, (lat0, lon0, radius, lat, lon)
