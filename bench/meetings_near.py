"""Meetings near a postcode among 100,000 upcoming ones, in the events service's read model (issue 10).

    .venv/bin/python bench/meetings_near.py

100,000 published meetings spread over France's postcodes (uniformly, by postcode:
so a city, with many postcodes, gets many), written straight into a migrated
SQLite read model; then `projections.list_meetings` near a few postcodes within
30 km, 20 times each: p50 and p95 of the query alone (no RPC, no gateway).
Target (issue 10): < 50 ms p95 through the gateway.
"""
import time, tempfile, random, uuid
from datetime import datetime, timedelta, timezone
from sqlalchemy import insert
from umpnet_kernel.database import Database
from umpnet_kernel.manifest import service
from umpnet_kernel.migrations import upgrade_to_head
from umpnet_kernel.paging import PageRequest
from umpnet_geo import all_postcodes, lookup_postcode
from events import projections as p
d = tempfile.mkdtemp(); url = f"sqlite:///{d}/e.db"
upgrade_to_head(service("events"), url)
db = Database(url)
now = datetime.now(timezone.utc)
codes = all_postcodes(); random.seed(1)
rows = []
for n in range(100_000):
    place = lookup_postcode(random.choice(codes))
    start = now + timedelta(hours=random.randint(1, 24 * 90))
    rows.append(dict(meeting_id=str(uuid.uuid4()), organizer_id="o", title=f"R {n}", description="d", description_html="d",
        starts_at=start, ends_at=start + timedelta(hours=2), timezone="Europe/Paris", address="a", city=place.city,
        postcode=place.postcode, lat=place.lat, lon=place.lon, federation_code=None, theme="economie", capacity=50,
        online_url=None, notify_radius_km=30, status="published", confirmed=0, waitlisted=0, cancel_reason=None, position=n))
with db.write() as conn:
    for i in range(0, len(rows), 5000):
        conn.execute(insert(p.meetings), rows[i:i+5000])
for code, sort in (("75011", "date"), ("75011", "distance"), ("69003", "date"), ("13001", "date"), ("23000", "date"), ("23000", "distance")):
    place = lookup_postcode(code)
    times = []
    for _ in range(20):
        t = time.perf_counter()
        with db.read() as conn:
            out = p.list_meetings(conn, PageRequest(50), now, start=now, near=(place.lat, place.lon), radius_km=30,
                                  federation=None, themes=(), sort=sort)
        times.append(time.perf_counter() - t)
    times.sort()
    print(code, sort, len(out["items"]), f"p50 {1000*times[10]:.1f} ms p95 {1000*times[18]:.1f} ms")
