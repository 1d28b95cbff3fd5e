"""The map of activists with a million members: seeding, map searches and profile reads
through the gateway, the map index's memory, and the ceilings of the same run.

    .venv/bin/python bench/map_members.py [--members 1000000] [--seconds 5] [--connections 1,8] [--keep]

What runs (nothing of a running `make run` is touched):
  * a fresh data dir under var/ and RabbitMQ vhost (signup_login's Platform), deleted
    at the end unless --keep; `umpnet migrate`, then `umpnet seed --members N`, timed
    (SQLite; a fifth of the members on the map, spread over the communes as people are);
  * the map index's memory: the members service's `MapIndex` built in this process from
    the seeded database, measured with tracemalloc (what one members process holds), and
    the members process's resident memory before and after its first map search;
  * every process as `make run` starts them, the gateway on a free port; one seeded
    member logs in;
  * closed-loop keep-alive HTTP clients (gateway_reads' asyncio client, a separate
    process), for each count in --connections, --seconds after 1 s of warm-up:
    `GET /api/map/members` 20 km around Paris 11e (the densest place), Lyon 3e, Guéret
    (rural), and a federation's members (Paris); `GET /api/members/me`; measured once the
    relay has published the seeded events (--relay wait, the default: ~2,000 events/s, so
    half an hour for a million members), or with them marked published (--relay skip);
  * the ceilings, in the same run and with the same client: a bare eventlet WSGI
    process answering a tiny JSON body, and the gateway's static stylesheet (the
    gateway without any RPC).

Aims (issue 8, performance): seeding 1,000,000 in under 5 min (aim 1 min); a 20 km map
search p95 under 50 ms (aim 20 ms); own-profile reads p95 under 10 ms.
"""
import sys

if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] in ("--client", "--bare-server"):
    # gateway_reads' helper modes (its client and its bare server) are run as that file
    raise SystemExit("run bench/gateway_reads.py for these modes")

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import resource  # noqa: E402
import sqlite3  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402

from gateway_reads import REPO, ServerCpu, bare_ceiling, line, measure  # noqa: E402  (patches eventlet)

import eventlet  # noqa: E402
import requests  # noqa: E402

from common import filesystem_of  # noqa: E402
from event_latency import load_average, machine  # noqa: E402
from signup_login import BIN, Platform  # noqa: E402
from umpnet_ops.seeding import SYNTHETIC_PASSWORD_FILE  # noqa: E402

TARGET_SEED_S, AIM_SEED_S = 300, 60
TARGET_MAP_P95_MS, AIM_MAP_P95_MS = 50, 20
TARGET_PROFILE_P95_MS = 10
SEARCHES = (
    ("20 km around Paris 11e (postcode)", "postcode=75011&radius_km=20"),
    ("20 km around a point in Paris (lat/lon)", "lat=48.8566&lon=2.3522&radius_km=20"),
    ("20 km around Lyon 3e", "postcode=69003&radius_km=20"),
    ("20 km around Guéret (rural)", "postcode=23000&radius_km=20"),
    ("federation 75", "federation=75"),
)


def arguments():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per line (after 1 s of warm-up)")
    parser.add_argument("--connections", default="1,8", help="closed-loop connections, a line each (default 1,8)")
    parser.add_argument("--relay", choices=("wait", "skip"), default="wait",
                        help="wait: measure once the relay has published every seeded event (~2,000/s: half an hour "
                             "for a million members); skip: mark them published before the services start "
                             "(nobody subscribes to them here; the relay's own figures are bench/event_latency.py's)")
    parser.add_argument("--keep", action="store_true", help="keep the data dir (databases, logs)")
    return parser.parse_args()


def rss_mib(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        return int(re.search(r"VmRSS:\s+(\d+) kB", f.read()).group(1)) / 1024


def index_memory(data_dir: str) -> str:
    """Build the members service's map index from the database here, under tracemalloc."""
    from sqlalchemy import create_engine

    from members.map import MapIndex

    engine = create_engine(f"sqlite:///{data_dir}/members.db")
    index = MapIndex()
    try:
        with engine.connect() as conn:
            tracemalloc.start()
            started = time.perf_counter()
            index.refresh(conn)
            seconds = time.perf_counter() - started
            current, _ = tracemalloc.get_traced_memory()
            tracemalloc.stop()
    finally:
        engine.dispose()
    crowded = sum(1 for c in index.cells.values() if len(c.members) >= 5)
    shown = sum(len(c.members) for c in index.cells.values() if len(c.members) >= 5)
    return (f"map index: {index.member_count():,} members on the map in {len(index.cells):,} cells "
            f"({crowded:,} cells of 5 or more, holding {shown:,} members shown one by one); "
            f"{current / 2**20:.1f} MiB (tracemalloc), built in {seconds:.1f} s (untraced: less)")


def mark_published(platform) -> None:
    """Move the members outbox cursor to the head: the relay starts after the seeded events."""
    conn = sqlite3.connect(f"{platform.data_dir}/members.db", timeout=30)
    with conn:
        head = conn.execute("SELECT max(position) FROM events").fetchone()[0] or 0
        conn.execute("DELETE FROM event_cursors WHERE name = 'outbox'")
        conn.execute("INSERT INTO event_cursors (name, position) VALUES ('outbox', ?)", (head,))
    conn.close()
    print(f"relay: the {head:,} seeded events marked as published (--relay skip): not measured here", flush=True)


def wait_for_the_relay(platform, timeout: float = 3600) -> None:
    """The seeded events are ordinary ones: the relay publishes them all, and the subscribers (the
    gateway's cache invalidation, the mailer) read theirs. Measured only once that is over."""
    conn = sqlite3.connect(f"file:{platform.data_dir}/members.db?mode=ro", uri=True, timeout=30)
    started = time.monotonic()
    head = conn.execute("SELECT max(position) FROM events").fetchone()[0] or 0
    while time.monotonic() - started < timeout:
        row = conn.execute("SELECT position FROM event_cursors WHERE name = 'outbox'").fetchone()
        if row and row[0] >= head:
            break
        eventlet.sleep(2)
    relayed = time.monotonic() - started
    while time.monotonic() - started < timeout:
        status = subprocess.run([os.path.join(BIN, "umpnet"), "status"], cwd=REPO, env=platform.env,
                                capture_output=True, text=True).stdout
        depths = [int(n) for n in re.findall(r"queue \S+: (\d+)", status)]
        if not any(depths):
            break
        eventlet.sleep(2)
    conn.close()
    print(f"relay: {head:,} seeded events published in {relayed:.0f} s ({head / max(relayed, 1e-9):,.0f}/s); "
          f"subscriptions drained after {time.monotonic() - started:.0f} s", flush=True)


def main() -> int:
    args = arguments()
    logging.getLogger("amqp").setLevel(logging.ERROR)
    connections = [int(c) for c in args.connections.split(",")]
    print(f"machine: {machine()}; load average {load_average()} before the run", flush=True)
    ceilings = {c: bare_ceiling(argparse.Namespace(connections=c, seconds=args.seconds)) for c in connections}
    with Platform(args.keep) as platform:
        print(f"data dir: {platform.data_dir} ({filesystem_of(platform.data_dir)}); vhost {platform.vhost}")
        platform.umpnet("migrate")
        started, cpu_before = time.monotonic(), resource.getrusage(resource.RUSAGE_CHILDREN)
        seeded = subprocess.run([os.path.join(BIN, "umpnet"), "seed", "--members", str(args.members)], cwd=REPO,
                                env=platform.env, capture_output=True, text=True, check=True)
        seconds = time.monotonic() - started
        cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (cpu_after.ru_utime - cpu_before.ru_utime) + (cpu_after.ru_stime - cpu_before.ru_stime)
        verdict = "MET" if seconds < TARGET_SEED_S else "MISSED"
        print(f"umpnet seed --members {args.members:,}: {seconds:.1f} s wall, the command included "
              f"({seeded.stdout.strip().split(';')[0]}), {cpu:.0f} s of CPU: {verdict} (< {TARGET_SEED_S} s; aim {AIM_SEED_S} s"
              f"{': met' if seconds < AIM_SEED_S else ': missed'}); load average {load_average()}", flush=True)
        size = os.path.getsize(os.path.join(platform.data_dir, "members.db")) / 2**20
        print(f"members.db: {size:,.0f} MiB", flush=True)
        print(index_memory(platform.data_dir), flush=True)

        if args.relay == "skip":
            mark_published(platform)
        platform.start_all()
        platform.wait_healthy(timeout=300)
        if args.relay == "wait":
            wait_for_the_relay(platform)
        with open(os.path.join(platform.data_dir, SYNTHETIC_PASSWORD_FILE)) as f:
            password = f.read().strip()
        conn = sqlite3.connect(f"file:{platform.data_dir}/members.db?mode=ro", uri=True, timeout=30)
        email = conn.execute("SELECT email FROM members WHERE email LIKE 'seed-%' LIMIT 1").fetchone()[0]
        conn.close()
        login = requests.post(platform.url + "/api/sessions", json={"email": email, "password": password}, timeout=30)
        login.raise_for_status()
        auth = {"Authorization": f"Bearer {login.json()['token']}"}
        members_pid = platform.processes["members"].pid
        before = rss_mib(members_pid)
        started = time.monotonic()
        first = requests.get(platform.url + "/api/map/members?" + SEARCHES[0][1], headers=auth, timeout=120)
        first.raise_for_status()
        print(f"first map search (the members service loads its index): {time.monotonic() - started:.1f} s; "
              f"members process RSS {before:.0f} -> {rss_mib(members_pid):.0f} MiB", flush=True)
        for _, query in SEARCHES:
            body = requests.get(platform.url + "/api/map/members?" + query, headers=auth, timeout=30).json()
            print(f"  ?{query}: {len(body['items'])} items on the first page, {len(body['cells'])} small cells, "
                  f"{'more pages' if body['next_cursor'] else 'one page'}, {len(json.dumps(body)) / 1024:.0f} KiB")

        results = {}
        gateway_pid = platform.processes["gateway"].pid
        for count in connections:
            print(f"{count} connection(s), closed loop, {args.seconds:g} s per line:", flush=True)
            lines = [(f"GET /api/map/members {label}", "/api/map/members?" + query) for label, query in SEARCHES]
            lines += [("GET /api/members/me", "/api/members/me"), ("gateway static /static/site.css (ceiling)", "/static/site.css")]
            for label, path in lines:
                with ServerCpu(gateway_pid) as cpu, ServerCpu(members_pid) as members_cpu:
                    result = measure(platform.url + path, count, args.seconds, auth)
                print(line(label, result, ceilings[count], cpu.cores) + f", members {members_cpu.cores:.2f} core",
                      flush=True)
                results[(label, count)] = result
            print(f"  (bare eventlet WSGI ceiling at {count}: {ceilings[count]:,.0f}/s, measured first)")
        print(f"members process RSS at the end: {rss_mib(members_pid):.0f} MiB")
    print("verdicts (p95 at 1 connection):")
    for label, _ in SEARCHES[:4]:
        p95 = results[(f"GET /api/map/members {label}", connections[0])]["p95_ms"]
        print(f"  map {label}: p95 {p95:.1f} ms: {'MET' if p95 < TARGET_MAP_P95_MS else 'MISSED'} "
              f"(< {TARGET_MAP_P95_MS} ms; aim {AIM_MAP_P95_MS} ms: {'met' if p95 < AIM_MAP_P95_MS else 'missed'})")
    p95 = results[("GET /api/members/me", connections[0])]["p95_ms"]
    print(f"  own profile: p95 {p95:.1f} ms: {'MET' if p95 < TARGET_PROFILE_P95_MS else 'MISSED'} (< {TARGET_PROFILE_P95_MS} ms)")
    print(f"load average {load_average()} after the run")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
