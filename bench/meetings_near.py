"""Meetings near a postcode among 100,000 upcoming ones (issue 10): the query alone, and through the gateway.

    .venv/bin/python bench/meetings_near.py             the query alone (no RPC, no gateway)
    .venv/bin/python bench/meetings_near.py --gateway   and through the gateway [--connections 1,4 --seconds 5]

100,000 published meetings spread over France's postcodes (uniformly, by postcode:
so a city, with many postcodes, gets many), written straight into a migrated
SQLite read model of the events service.

The query alone: `projections.list_meetings` near a few postcodes within 30 km,
by date and by distance, 20 times each: p50 and p95.

`--gateway`: the same read model in the platform as `make run` starts it (every
service and the gateway, fresh vhost and data dir under var/, deleted unless
--keep). In the same run: the ceiling (a bare eventlet WSGI process), then
`GET /api/meetings?postcode=…&radius_km=30&sort=…` from each count of
`--connections` (1,4: one searcher, the verdict's, then four at once)
keep-alive connections for `--seconds` each, as a logged-in member (a request
with a session is never a kept public answer: each is the events service's
query, through the gateway's session cache and one RPC), with the ratio to the
ceiling; last, the same search anonymously, where the gateway keeps the answer
(`public_read`) for the next identical one.
Target (issue 10): < 50 ms p95 through the gateway.
"""
import sys

GATEWAY = "--gateway" in sys.argv
if GATEWAY:
    from gateway_reads import ReadsPlatform, bare_ceiling, line, measure  # noqa: F401 (patches eventlet first)
    from event_latency import load_average, machine

import argparse  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from datetime import datetime, timedelta, timezone  # noqa: E402

from sqlalchemy import insert  # noqa: E402

from umpnet_geo import all_postcodes, lookup_postcode  # noqa: E402
from umpnet_kernel.database import Database  # noqa: E402
from umpnet_kernel.paging import PageRequest  # noqa: E402

MEETINGS = 100_000
SEARCHES = (("75011", "date"), ("75011", "distance"), ("69003", "date"), ("13001", "date"),
            ("23000", "date"), ("23000", "distance"))
TARGET_P95_MS = 50


def arguments():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gateway", action="store_true")
    parser.add_argument("--connections", default="1,4",
                        help="through the gateway, one round each (the verdict: the first, one searcher)")
    parser.add_argument("--seconds", type=float, default=5.0, help="per search through the gateway")
    parser.add_argument("--keep", action="store_true")
    return parser.parse_args()


def seed_meetings(db: Database, now: datetime) -> None:
    from events import projections as p

    codes = all_postcodes()
    random.seed(1)
    rows = []
    for n in range(MEETINGS):
        place = lookup_postcode(random.choice(codes))
        start = now + timedelta(hours=random.randint(1, 24 * 90))
        rows.append(dict(meeting_id=str(uuid.uuid4()), organizer_id="o", title=f"R {n}", description="d",
                         description_html="d", starts_at=start, ends_at=start + timedelta(hours=2),
                         timezone="Europe/Paris", address="a", city=place.city, postcode=place.postcode,
                         lat=place.lat, lon=place.lon, federation_code=None, theme="economie", capacity=50,
                         online_url=None, notify_radius_km=30, status="published", confirmed=0, waitlisted=0,
                         cancel_reason=None, position=n))
    with db.write() as conn:
        for i in range(0, len(rows), 5000):
            conn.execute(insert(p.meetings), rows[i:i + 5000])


def query_alone(db: Database, now: datetime) -> None:
    from events import projections as p

    for code, sort in SEARCHES:
        place = lookup_postcode(code)
        times = []
        for _ in range(20):
            started = time.perf_counter()
            with db.read() as conn:
                out = p.list_meetings(conn, PageRequest(50), now, start=now, near=(place.lat, place.lon),
                                      radius_km=30, federation=None, themes=(), sort=sort)
            times.append(time.perf_counter() - started)
        times.sort()
        print(f"  query alone {code} {sort:<8} {len(out['items'])} items  p50 {1000 * times[10]:5.1f} ms  "
              f"p95 {1000 * times[18]:5.1f} ms", flush=True)


def standalone() -> int:
    from umpnet_kernel.manifest import service
    from umpnet_kernel.migrations import upgrade_to_head

    url = f"sqlite:///{tempfile.mkdtemp()}/e.db"
    upgrade_to_head(service("events"), url)
    db = Database(url)
    now = datetime.now(timezone.utc)
    seed_meetings(db, now)
    query_alone(db, now)
    return 0


def through_the_gateway(args) -> int:
    import requests

    from umpnet_ops.seeding import SYNTHETIC_PASSWORD_FILE

    print(f"machine: {machine()}; load average before: {load_average()}", flush=True)
    counts = [int(c) for c in args.connections.split(",")]
    ceiling = bare_ceiling(argparse.Namespace(connections=counts[-1], seconds=args.seconds))
    worst = 0.0
    with ReadsPlatform(args.keep) as platform:
        platform.umpnet("migrate")
        platform.umpnet("seed", "--members", "1")
        db = Database(f"sqlite:///{platform.data_dir}/events.db")
        now = datetime.now(timezone.utc)
        seed_meetings(db, now)
        query_alone(db, now)
        db.dispose()
        (email,) = platform.seeded_emails()[:1]
        platform.start_all()
        platform.wait_healthy()
        with open(os.path.join(platform.data_dir, SYNTHETIC_PASSWORD_FILE)) as f:
            password = f.read().strip()
        token = requests.post(f"{platform.url}/api/sessions", json={"email": email, "password": password},
                              timeout=60).json()["token"]
        member = {"Authorization": f"Bearer {token}"}
        for connections in counts:
            print(f"{connections} connection(s), {args.seconds:g} s per line:", flush=True)
            for code, sort in SEARCHES:
                url = f"{platform.url}/api/meetings?postcode={code}&radius_km=30&sort={sort}"
                result = measure(url, connections, args.seconds, member)
                if connections == counts[0]:
                    worst = max(worst, result["p95_ms"])
                print(line(f"member, {code} by {sort}", result, ceiling), flush=True)
        anonymous = measure(f"{platform.url}/api/meetings?postcode=75011&radius_km=30&sort=distance",
                            counts[-1], args.seconds)
        print(line("anonymous, 75011 by distance (kept answer)", anonymous, ceiling), flush=True)
    verdict = "met" if worst < TARGET_P95_MS else "MISSED"
    print(f"verdict: worst p95 through the gateway, as a member, {counts[0]} connection(s): {worst:.1f} ms "
          f"(target < {TARGET_P95_MS} ms): "
          f"{verdict}; load average after: {load_average()}")
    return 0


if __name__ == "__main__":
    options = arguments()
    raise SystemExit(through_the_gateway(options) if options.gateway else standalone())
