"""Opening a big debate through the gateway: a debate of 10,000 contributions, its first page
of 50 threads sorted by support, p95 at 1 and 8 connections; and a search.

    .venv/bin/python bench/debate_reading.py [--contributions 10000] [--seconds 5] [--connections 1,8] [--keep]

What runs (nothing of a running `make run` is touched):
  * a fresh data dir under var/ and RabbitMQ vhost (signup_login's Platform), deleted at
    the end unless --keep; `umpnet migrate`;
  * seeding, in this process, through the debates service's own use-case code
    (`DebatesApp`, one transaction per 500 streams): one national debate, 300 members known
    to the service, the contributions (a fifth at the top level, the others replies to an
    earlier one, so threads of about five), and 3 votes per contribution on average from
    random members; the seeded events are then marked as published (the relay would
    otherwise publish them during the measure: nobody here needs them);
  * every process as `make run` starts them, the gateway on a free port;
  * closed-loop keep-alive HTTP clients (gateway_reads' asyncio client, another process),
    --seconds after 1 s of warm-up, anonymous (so nothing is cached for a session, and
    nothing public is cached for debates either): `GET /api/debates/{id}?sort=support`
    (limit 50), `?sort=newest`, `?sort=discussed`, and `GET /api/debates?q=ecole`.

Aim (issue 11, performance): the first page of 50 by support in under 100 ms at p95.
"""
import sys

if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] in ("--client", "--bare-server"):
    raise SystemExit("run bench/gateway_reads.py for these modes")

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import sqlite3  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402

from gateway_reads import ServerCpu, line, measure  # noqa: E402  (patches eventlet)

import requests  # noqa: E402

from event_latency import load_average, machine  # noqa: E402
from signup_login import Platform  # noqa: E402

TARGET_P95_MS = 100
BATCH = 500
WORDS = ("école", "classe", "élèves", "transport", "gare", "santé", "hôpital", "logement", "emploi", "quartier",
         "commune", "budget", "sécurité", "culture", "numérique", "agriculture", "europe", "justice")


def arguments():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contributions", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", default="1,8")
    parser.add_argument("--keep", action="store_true")
    return parser.parse_args()


def seed(data_dir: str, secret: str, contributions: int) -> str:
    """The debate's id, after seeding it through the service's use-case code."""
    from debates.application import DebatesApp
    from debates.domain.contribution import Contribution, Vote, vote_id_for
    from debates.domain.debate import Debate
    from debates.domain.debater import Debater
    from umpnet_kernel.database import Database
    from umpnet_kernel.events import Context

    rng = random.Random(11)
    db = Database(f"sqlite:///{data_dir}/debates.db")
    app = DebatesApp(db, secret)
    members = [str(uuid.uuid4()) for _ in range(300)]
    debate_id = str(uuid.uuid4())

    def known(uow):
        for n, member_id in enumerate(members):
            debater = Debater(member_id)
            debater.learn(f"Membre{n} S.", None, "75")
            uow.add(debater)
        uow.add(Debate.open(debate_id, author_id=members[0], title="L'école de demain", body="Parlons-en.",
                            scope="national", federation_code=None, theme="education", closes_at=None))

    app.execute(Context(), known)
    ids: list[str] = []
    authors: dict[str, str] = {}
    started = time.monotonic()
    while len(ids) < contributions:
        count = min(BATCH, contributions - len(ids))

        def batch(uow, count=count):
            made = []
            for _ in range(count):
                contribution_id = str(uuid.uuid4())
                parent = None
                if ids and rng.random() < 0.8:
                    parent = Contribution(rng.choice(ids))
                    parent.author_id = authors[parent.id]
                author = rng.choice(members)
                body = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 40)))
                uow.add(Contribution.post(contribution_id, debate_id=debate_id, debate_title="L'école de demain",
                                          parent=parent, author_id=author, body=f"**Idée** : {body}", now=None))
                made.append((contribution_id, author))
            return made

        for contribution_id, author in app.execute(Context(), batch):
            ids.append(contribution_id)
            authors[contribution_id] = author
    posted = time.monotonic() - started
    votes = [(c, m) for c in ids for m in rng.sample(members, rng.choice((0, 1, 2, 3, 4, 5, 6)))
             if m != authors[c]]
    started = time.monotonic()
    for start in range(0, len(votes), BATCH):
        def voting(uow, chunk=votes[start:start + BATCH]):
            for contribution_id, member_id in chunk:
                contribution = Contribution(contribution_id)
                contribution.author_id = authors[contribution_id]
                vote = Vote(vote_id_for(contribution_id, member_id))
                vote.give(contribution, member_id, rng.choice((1, 1, 1, -1)))
                uow.add(vote)
        app.execute(Context(), voting)
    voted = time.monotonic() - started
    db.dispose()
    print(f"seeded: {contributions:,} contributions in {posted:.1f} s, {len(votes):,} votes in {voted:.1f} s "
          f"(the service's use-case code, {BATCH} streams a transaction)", flush=True)
    return debate_id


def mark_published(data_dir: str) -> None:
    conn = sqlite3.connect(f"{data_dir}/debates.db", timeout=30)
    with conn:
        head = conn.execute("SELECT max(position) FROM events").fetchone()[0] or 0
        conn.execute("DELETE FROM event_cursors WHERE name = 'outbox'")
        conn.execute("INSERT INTO event_cursors (name, position) VALUES ('outbox', ?)", (head,))
    conn.close()
    print(f"relay: the {head:,} seeded events marked as published: not measured here", flush=True)


def main() -> int:
    args = arguments()
    connections = [int(n) for n in args.connections.split(",")]
    print(f"debate_reading: {machine()}; load average {load_average()}", flush=True)
    with Platform(args.keep) as platform:
        platform.umpnet("migrate")
        debate_id = seed(platform.data_dir, platform.env["SECRET_KEY"], args.contributions)
        mark_published(platform.data_dir)
        platform.start_all()
        platform.wait_healthy(timeout=120)
        path = f"/api/debates/{debate_id}"
        first = requests.get(platform.url + path + "?sort=support&limit=50", timeout=30).json()
        shown = len(first["contributions"])
        tops = sum(1 for c in first["contributions"] if not c["parent_id"])
        print(f"first page: {tops} threads, {shown} contributions, {len(json.dumps(first)) / 1024:.0f} KiB", flush=True)
        gateway_pid, debates_pid = platform.processes["gateway"].pid, platform.processes["debates"].pid
        results = {}
        lines = [("GET a debate, 50 threads by support", path + "?sort=support&limit=50"),
                 ("GET a debate, 50 threads, newest", path + "?sort=newest&limit=50"),
                 ("GET a debate, 50 threads, most discussed", path + "?sort=discussed&limit=50"),
                 ("GET /api/debates?q=ecole (search)", "/api/debates?q=ecole")]
        for count in connections:
            print(f"{count} connection(s), closed loop, {args.seconds:g} s per line:", flush=True)
            for label, url in lines:
                with ServerCpu(gateway_pid) as cpu, ServerCpu(debates_pid) as debates_cpu:
                    result = measure(platform.url + url, count, args.seconds)
                print(line(label, result, None, cpu.cores) + f", debates {debates_cpu.cores:.2f} core", flush=True)
                results[(label, count)] = result
    p95 = results[(lines[0][0], connections[0])]["p95_ms"]
    print(f"verdict: first page by support at {connections[0]} connection(s): p95 {p95:.1f} ms: "
          f"{'MET' if p95 < TARGET_P95_MS else 'MISSED'} (< {TARGET_P95_MS} ms)")
    print(f"load average {load_average()} after the run")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
