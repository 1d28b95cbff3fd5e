"""500 members registering for one 100-seat meeting at once, through the gateway (issue 10).

    .venv/bin/python bench/meeting_registration.py [--members 500] [--capacity 100] [--keep]

The platform as `make run` starts it (every service and the gateway) on a fresh
RabbitMQ vhost and data dir under var/ (deleted unless --keep). `--members`
synthetic members are seeded and each logs in; one is made organizer and
publishes a meeting of `--capacity` seats. Then, in the same run:

  * the ceiling: a bare eventlet WSGI process answering a tiny JSON body
    (--connections, --seconds);
  * the burst: every member's `POST /api/meetings/{id}/registrations` sent at
    the same moment, each on its own keep-alive connection already open (the
    client is a separate asyncio process on raw sockets): registrations a
    second (all answers / the time from the first byte sent to the last
    answer), p50/p99, statuses;
  * afterwards, the service's own view: confirmed and waitlisted counts and the
    waitlist's positions (1..N, none missing, none twice).

Target (issue 10): exactly `capacity` confirmed, the rest waitlisted, none lost,
>= 300 registrations a second end to end (aim: 600).
"""
import sys

if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "--client":
    import asyncio
    import json
    import time

    class Registrant(asyncio.Protocol):
        """One connection, one request, sent when every connection is open."""

        def __init__(self, request, state, ready):
            self.request, self.state, self.ready = request, state, ready
            self.buffer = b""

        def connection_made(self, transport):
            self.transport = transport
            self.ready.set_result(self)

        def send(self):
            self.started = time.perf_counter()
            self.transport.write(self.request)

        def data_received(self, data):
            self.buffer += data
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].decode("latin-1")
            length = next((int(h.split(":", 1)[1]) for h in head.split("\r\n") if h.lower().startswith("content-length:")), 0)
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4:end + 4 + length]
            self.state["answers"].append((time.perf_counter(), time.perf_counter() - self.started, int(head[9:12]),
                                          json.loads(body).get("status") if body.startswith(b"{") else None))
            self.transport.close()
            self.state["left"] -= 1
            if self.state["left"] == 0:
                self.state["done"].set_result(None)

    async def burst(url, tokens):
        hostport, _, path = url.removeprefix("http://").partition("/")
        host, _, port = hostport.partition(":")
        loop = asyncio.get_running_loop()
        state = {"answers": [], "left": len(tokens), "done": loop.create_future()}
        connections = []
        for token in tokens:
            request = (f"POST /{path} HTTP/1.1\r\nHost: {hostport}\r\nAuthorization: Bearer {token}\r\n"
                       f"Content-Type: application/json\r\nContent-Length: 0\r\n\r\n").encode()
            ready = loop.create_future()
            await loop.create_connection(lambda r=request, f=ready: Registrant(r, state, f), host, int(port))
            connections.append(await ready)
        first = time.perf_counter()
        for connection in connections:
            connection.send()
        await asyncio.wait_for(state["done"], 120)
        last = max(a[0] for a in state["answers"])
        latencies = sorted(a[1] for a in state["answers"])
        statuses, outcomes = {}, {}
        for _, _, status, outcome in state["answers"]:
            statuses[status] = statuses.get(status, 0) + 1
            outcomes[str(outcome)] = outcomes.get(str(outcome), 0) + 1

        def percentile(p):
            return 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * p / 100))]

        return {"answers": len(latencies), "seconds": last - first, "statuses": statuses, "outcomes": outcomes,
                "p50_ms": percentile(50), "p95_ms": percentile(95), "p99_ms": percentile(99), "max_ms": percentile(100),
                "client_cpu_s": time.process_time()}

    tokens = json.loads(sys.stdin.read())
    print(json.dumps(asyncio.run(burst(sys.argv[2], tokens))))
    raise SystemExit(0)

import argparse  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import subprocess  # noqa: E402
from datetime import datetime, timedelta, timezone  # noqa: E402

from gateway_reads import ReadsPlatform, bare_ceiling, line  # noqa: E402  (patches eventlet)
from event_latency import load_average, machine, process_seconds  # noqa: E402

import eventlet  # noqa: E402
import requests  # noqa: E402

from umpnet_ops.seeding import SYNTHETIC_PASSWORD_FILE  # noqa: E402

THIS = os.path.abspath(__file__)
REPO = os.path.dirname(os.path.dirname(THIS))
TARGET_PER_SECOND = 300


def arguments():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=500)
    parser.add_argument("--capacity", type=int, default=100)
    parser.add_argument("--connections", type=int, default=64, help="for the bare ceiling")
    parser.add_argument("--seconds", type=float, default=5.0, help="for the bare ceiling")
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--profile", default="", help="comma-separated processes (gateway,events,members) "
                        "to sample with py-spy during the burst (flame graphs under the data dir; needs --keep)")
    return parser.parse_args()


def start_profiles(platform, names: str) -> list:
    """py-spy on each named process for the burst: its --nonblocking sampling barely slows it."""
    profiles = []
    for name in filter(None, names.split(",")):
        out = os.path.join(platform.data_dir, f"profile-{name}.txt")
        profiles.append(subprocess.Popen(
            [os.path.join(os.path.dirname(sys.executable), "py-spy"), "record", "--nonblocking", "--format", "raw",
             "--rate", "200", "--pid", str(platform.processes[name].pid), "--output", out],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        print(f"  profiling {name} into {out}", flush=True)
    return profiles


def stop_profiles(profiles) -> None:
    import signal
    for profile in profiles:
        profile.send_signal(signal.SIGINT)
        profile.wait(timeout=30)


def main() -> int:
    args = arguments()
    print(f"machine: {machine()}; load average before: {load_average()}", flush=True)
    ceiling = bare_ceiling(args)
    with ReadsPlatform(args.keep) as platform:
        platform.umpnet("migrate")
        platform.umpnet("seed", "--members", str(args.members + 1))
        emails = platform.seeded_emails()
        organizer, registrants = emails[0], emails[1:args.members + 1]
        platform.start_all()
        platform.wait_healthy()
        platform.umpnet("grant-role", organizer, "organizer")
        with open(os.path.join(platform.data_dir, SYNTHETIC_PASSWORD_FILE)) as f:
            password = f.read().strip()

        def log_in(email):
            answer = requests.post(f"{platform.url}/api/sessions", json={"email": email, "password": password},
                                   timeout=60)
            answer.raise_for_status()
            return answer.json()["token"]

        token = log_in(organizer)
        tokens = list(eventlet.GreenPool(16).imap(log_in, registrants))
        start = datetime.now(timezone.utc) + timedelta(days=3)
        meeting = requests.post(f"{platform.url}/api/meetings", headers={"Authorization": f"Bearer {token}"}, json={
            "title": "Banc d'essai", "description": "Tout le monde en même temps.", "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=2)).isoformat(), "address": "1 place de la Mairie",
            "postcode": "75011", "capacity": args.capacity, "theme": "economie"}, timeout=10)
        meeting.raise_for_status()
        mid = meeting.json()["id"]
        cpu_before = {name: process_seconds(p.pid) for name, p in platform.processes.items()}
        profiles = start_profiles(platform, args.profile)
        client = subprocess.run([sys.executable, THIS, "--client", f"{platform.url}/api/meetings/{mid}/registrations"],
                                input=json.dumps(tokens), capture_output=True, text=True, cwd=REPO, check=True)
        cpu = {name: process_seconds(p.pid) - cpu_before[name] for name, p in platform.processes.items()}
        stop_profiles(profiles)
        result = json.loads(client.stdout)
        rate = result["answers"] / result["seconds"]
        print(line(f"POST registrations, {len(tokens)} at once", result, ceiling), flush=True)
        print("  CPU seconds of each process during the burst: "
              + ", ".join(f"{name} {seconds:.2f}" for name, seconds in sorted(cpu.items(), key=lambda kv: -kv[1])),
              flush=True)
        auth = {"Authorization": f"Bearer {token}"}
        view = requests.get(f"{platform.url}/api/meetings/{mid}", headers=auth, timeout=10).json()
        listed = requests.get(f"{platform.url}/api/meetings/{mid}/registrations", headers=auth,
                              params={"limit": 500}, timeout=10).json()["items"]
        positions = [r["position"] for r in listed if r["status"] == "waitlisted"]
        confirmed = sum(r["status"] == "confirmed" for r in listed)
        exact = (confirmed == view["confirmed_count"] == args.capacity and len(listed) == len(tokens)
                 and positions == list(range(1, len(tokens) - args.capacity + 1))
                 and result["outcomes"].get("confirmed") == args.capacity)
        print(f"  answers: {result['outcomes']}; the service: {confirmed} confirmed, {len(positions)} waitlisted "
              f"(positions 1..{max(positions, default=0)}, none missing or doubled: "
              f"{positions == list(range(1, len(positions) + 1))}), {len(tokens) - len(listed)} lost", flush=True)
        ok = exact and rate >= TARGET_PER_SECOND
        print(f"verdict: {rate:,.0f} registrations/s (target {TARGET_PER_SECOND}, aim 600), exact counts: {exact}: "
              f"{'met' if ok else 'MISSED'}; {rate / ceiling:.2f} of the bare ceiling; "
              f"load average after: {load_average()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
