"""Signing a petition through the gateway: requests a second, against the gateway's own ceiling.

    .venv/bin/python bench/petition_signing_gateway.py [--connections 64] [--seconds 10] [--keep]

The platform as `make run` starts it (every service and the gateway) on a fresh
RabbitMQ vhost and data dir under var/ (deleted unless --keep), RATE_LIMIT_SCALE
high (one source address sends everything). A seeded member is made national
admin and launches a petition; then, in the same run:

  * the ceiling: a bare eventlet WSGI process answering a tiny JSON body;
  * the gateway's rate on a trivial endpoint (`GET /api/themes`, cached);
  * `POST /api/petitions/{id}/signatures` from --connections keep-alive
    connections, closed loop, each request its own address (the client is a
    separate asyncio process on raw sockets), for --seconds after one second of
    warm-up: answers a second, p50/p99, statuses, each process's CPU per answer;
  * afterwards: how many signatures the petitions service stored (each 202 is a
    committed request), and when the mailer had queued their confirmation emails;
  * with --confirm: once the emails are written, every link in them confirmed
    (`POST /api/signatures/confirm`) from the same connections, a token each, while
    a watcher reads the public count (`GET /api/petitions/{id}`, anonymous) five
    times a second beside the confirmed signatures stored: how far it trails.

Target (issue 9): >= 1,000 accepted a second sustained, p99 < 100 ms; 1,000
confirmations a second; the public count never more than 2 s behind.
"""
import sys

if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] == "--client":
    import asyncio
    import json
    import time

    class Signer(asyncio.Protocol):
        """One closed-loop connection; each request signs with a new address."""

        def __init__(self, head, number, state):
            self.head, self.number, self.state = head, number, state
            self.buffer, self.sent = b"", 0

        def connection_made(self, transport):
            self.transport = transport
            self._send()

        def _send(self):
            state = self.state
            self.started = time.perf_counter()
            tokens = state["tokens"]
            if self.started >= state["stop_at"] or (tokens is not None and not tokens):
                self.transport.close()
                return
            self.sent += 1
            if tokens is not None:  # confirming: each request a token of the emails, used once
                body = json.dumps({"token": tokens.pop()}).encode()
            else:
                body = json.dumps({"email": f"signer-{self.number}-{self.sent}@example.org", "first_name": "Alice",
                                   "last_name": "Martin", "postcode": "75011"}).encode()
            self.transport.write(self.head + f"Content-Length: {len(body)}\r\n\r\n".encode() + body)

        def data_received(self, data):
            self.buffer += data
            while True:
                end = self.buffer.find(b"\r\n\r\n")
                if end < 0:
                    return
                head = self.buffer[:end]
                at = head.lower().find(b"\r\ncontent-length:")
                length = 0
                if at >= 0:
                    stop = head.find(b"\r\n", at + 2)
                    length = int(head[at + 17:stop if stop >= 0 else len(head)])
                if len(self.buffer) < end + 4 + length:
                    return
                self.buffer = self.buffer[end + 4 + length:]
                if self.started >= self.state["warm_until"]:
                    self.state["latencies"].append(time.perf_counter() - self.started)
                    status = int(head[9:12])
                    self.state["statuses"][status] = self.state["statuses"].get(status, 0) + 1
                self._send()

        def connection_lost(self, exc):
            self.state["ended"] = max(self.state.get("ended", 0.0), time.perf_counter())
            if not self.state["done"][self.number].done():
                self.state["done"][self.number].set_result(exc)

    async def load(url, connections, seconds, tokens_file=None):
        hostport, _, path = url.removeprefix("http://").partition("/")
        host, _, port = hostport.partition(":")
        head = f"POST /{path} HTTP/1.1\r\nHost: {hostport}\r\nContent-Type: application/json\r\n".encode()
        loop = asyncio.get_running_loop()
        tokens = open(tokens_file).read().split() if tokens_file else None
        state = {"latencies": [], "statuses": {}, "warm_until": time.perf_counter() + 1.0, "tokens": tokens}
        state["stop_at"] = state["warm_until"] + seconds
        state["done"] = [loop.create_future() for _ in range(connections)]
        for n in range(connections):
            await loop.create_connection(lambda n=n: Signer(head, n, state), host, int(port))
        await asyncio.gather(*state["done"])
        latencies = sorted(state["latencies"])

        def percentile(p):
            return 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * p / 100))] if latencies else float("nan")

        if tokens is not None:  # it ends when the tokens do: the rate is over the time it took
            seconds = min(seconds, state["ended"] - state["warm_until"])  # set as each connection closes
        return {"answers": len(latencies), "seconds": seconds, "statuses": state["statuses"],
                "p50_ms": percentile(50), "p95_ms": percentile(95), "p99_ms": percentile(99),
                "max_ms": percentile(100), "client_cpu_s": time.process_time()}

    print(json.dumps(asyncio.run(load(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]),
                                      sys.argv[5] if len(sys.argv) > 5 else None))))
    raise SystemExit(0)

import email  # noqa: E402
import email.policy  # noqa: E402
import glob  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import re  # noqa: E402
import sqlite3  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

from gateway_reads import ReadsPlatform, ServerCpu, bare_ceiling, line, measure  # noqa: E402  (patches eventlet)
from event_latency import load_average, machine, pids_named, process_seconds  # noqa: E402

import argparse  # noqa: E402

import eventlet  # noqa: E402
import requests  # noqa: E402

from umpnet_ops.seeding import SYNTHETIC_PASSWORD_FILE  # noqa: E402

THIS = os.path.abspath(__file__)
REPO = os.path.dirname(os.path.dirname(THIS))
TARGET_PER_SECOND, TARGET_P99_MS = 1000, 100


def arguments():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--keep", action="store_true")
    parser.add_argument("--profile", default="", help="a process to record with py-spy during the load (petitions, gateway...)")
    parser.add_argument("--confirm", action="store_true",
                        help="then confirm them: POST /api/signatures/confirm with the emails' tokens, and "
                             "how far the public count trails the confirmed signatures")
    parser.add_argument("--without-mailer", action="store_true",
                        help="stop the mailer once the petition is launched: what signing costs without the emails")
    return parser.parse_args()


def sign_load(url: str, connections: int, seconds: float, tokens_file: str | None = None) -> dict:
    process = subprocess.Popen([sys.executable, THIS, "--client", url, str(connections), str(seconds),
                                *([tokens_file] if tokens_file else [])], stdout=subprocess.PIPE, cwd=REPO)
    out, _ = process.communicate()
    if process.returncode != 0:
        raise RuntimeError("the signing client failed")
    return json.loads(out)


def count_rows(path: str, sql: str) -> int:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(sql).fetchone()[0]
    finally:
        conn.close()


def main() -> int:
    args = arguments()
    print(f"machine: {machine()}; load average before: {load_average()}", flush=True)
    ceiling = bare_ceiling(args)
    with ReadsPlatform(args.keep) as platform:
        platform.umpnet("migrate")
        platform.umpnet("seed", "--members", "20")
        admin = platform.seeded_emails()[0]
        platform.start_all()
        platform.wait_healthy()
        platform.umpnet("grant-role", admin, "national_admin")  # through the running members service
        with open(os.path.join(platform.data_dir, SYNTHETIC_PASSWORD_FILE)) as f:
            password = f.read().strip()
        token = requests.post(f"{platform.url}/api/sessions", json={"email": admin, "password": password},
                              timeout=10).json()["token"]
        petition = requests.post(f"{platform.url}/api/petitions", headers={"Authorization": f"Bearer {token}"},
                                 json={"title": "Banc d'essai", "body": "Des signatures en rafale.",
                                       "theme": "economie", "goal": 1000000}, timeout=10).json()
        if args.without_mailer:
            mailer = platform.processes.pop("mailer")
            mailer.terminate()
            mailer.wait(timeout=30)
        gateway = platform.processes["gateway"].pid
        with ServerCpu(gateway) as cpu:
            trivial = measure(f"{platform.url}/api/themes", 32, min(args.seconds, 5))
        print(line("gateway GET /api/themes (cached), 32 conn", trivial, ceiling, cpu.cores), flush=True)
        pids = {name: p.pid for name, p in platform.processes.items()}
        rabbit = pids_named("beam.smp")
        before = {name: process_seconds(pid) for name, pid in pids.items()}
        rabbit_before = sum(process_seconds(pid) for pid in rabbit)
        started = time.monotonic()
        spy = None
        if args.profile:
            spy = subprocess.Popen(["py-spy", "record", "-o", f"/tmp/{args.profile}.txt", "-f", "raw", "-d",
                                    str(int(args.seconds)), "-p", str(pids[args.profile])],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with ServerCpu(gateway) as cpu:
            result = sign_load(f"{platform.url}/api/petitions/{petition['id']}/signatures", args.connections,
                               args.seconds)
        wall = time.monotonic() - started
        if spy is not None:
            spy.wait(timeout=60)
        rate = result["answers"] / result["seconds"]
        print(line(f"POST signatures, {args.connections} conn", result, ceiling, cpu.cores), flush=True)
        accepted = int(result["statuses"].get("202", 0))  # JSON keys are text
        spent = {name: process_seconds(pid) - before[name] for name, pid in pids.items()}
        spent["rabbitmq"] = sum(process_seconds(pid) for pid in rabbit) - rabbit_before
        stored = count_rows(os.path.join(platform.data_dir, "petitions.db"),
                            "SELECT count(*) FROM events WHERE event_type = 'petitions.SignatureRequested'")
        # every stored request (the warm-up's too) against the CPU of the whole run
        per = ", ".join(f"{name} {1000 * s / max(1, stored):.2f}" for name, s in sorted(spent.items()) if s > 0.05)
        print(f"  CPU per stored request over {wall:.1f} s (ms): {per}; total "
              f"{1000 * sum(spent.values()) / max(1, stored):.2f}", flush=True)
        deadline = time.monotonic() + (0 if args.without_mailer else 120)
        queued = 0
        while time.monotonic() < deadline:
            queued = count_rows(os.path.join(platform.data_dir, "mailer.db"),
                                "SELECT count(*) FROM emails WHERE kind = 'petition-confirmation'")
            if queued >= stored:
                break
            time.sleep(1)
        print(f"  stored signature requests: {stored} (202 answers measured: {accepted}); confirmation emails "
              f"queued: {queued}, {time.monotonic() - started - wall:.1f} s after the load stopped", flush=True)
        if args.confirm:
            confirming(platform, petition["id"], stored, args, ceiling)
        ok = rate >= TARGET_PER_SECOND and result["p99_ms"] < TARGET_P99_MS
        print(f"verdict: {rate:,.0f}/s (target {TARGET_PER_SECOND}), p99 {result['p99_ms']:.0f} ms "
              f"(target {TARGET_P99_MS}): {'met' if ok else 'MISSED'}; "
              f"{rate / ceiling:.2f} of the bare ceiling, {rate / (trivial['answers'] / trivial['seconds']):.2f} "
              f"of the gateway's trivial endpoint; load average after: {load_average()}")
    return 0


TOKEN = re.compile(r"/petitions/confirm\?token=([^\s]+)")


def tokens_of_the_emails(mail_dir: str, wanted: int, wait_s: float = 300) -> list[str]:
    """The confirmation tokens of the `.eml` files, once `wanted` of them are written."""
    deadline = time.monotonic() + wait_s
    while len(glob.glob(os.path.join(mail_dir, "*.eml"))) < wanted and time.monotonic() < deadline:
        time.sleep(1)
    tokens = []
    for path in glob.glob(os.path.join(mail_dir, "*.eml")):
        with open(path, "rb") as f:
            message = email.message_from_bytes(f.read(), policy=email.policy.default)
        found = TOKEN.search(message.get_body(("plain",)).get_content())
        if found:
            tokens.append(found.group(1))
    return tokens


def confirming(platform, petition_id: str, stored: int, args, ceiling: float) -> None:
    """Every emailed link confirmed at once from --connections, while a watcher compares the
    public count (an anonymous GET, as a page shows it) with the confirmed signatures stored."""
    waited = time.monotonic()
    tokens = tokens_of_the_emails(os.path.join(platform.data_dir, "mail"), stored)
    print(f"  confirmation links read from {len(tokens)} emails ({time.monotonic() - waited:.1f} s after)", flush=True)
    tokens_file = os.path.join(platform.data_dir, "tokens.txt")
    with open(tokens_file, "w") as f:
        f.write("\n".join(tokens))
    petitions_db = os.path.join(platform.data_dir, "petitions.db")
    confirmed_sql = "SELECT count(*) FROM events WHERE event_type = 'petitions.SignatureConfirmed'"
    samples = []  # (monotonic time, public count, confirmed stored)
    watching = [True]

    def watch():
        session = requests.Session()
        while watching[0]:
            public = session.get(f"{platform.url}/api/petitions/{petition_id}", timeout=10).json()["signature_count"]
            samples.append((time.monotonic(), public, count_rows(petitions_db, confirmed_sql)))
            eventlet.sleep(0.2)

    watcher = eventlet.spawn(watch)
    pids = {name: p.pid for name, p in platform.processes.items()}
    before = {name: process_seconds(pid) for name, pid in pids.items()}
    with ServerCpu(pids["gateway"]) as cpu:
        result = sign_load(f"{platform.url}/api/signatures/confirm", args.connections, args.seconds, tokens_file)
    eventlet.sleep(4)  # the count catching up after the last confirmation
    watching[0] = False
    watcher.wait()
    rate = result["answers"] / result["seconds"]
    print(line(f"POST signatures/confirm, {args.connections} conn", result, ceiling, cpu.cores), flush=True)
    confirmed = count_rows(petitions_db, confirmed_sql)
    spent = {name: process_seconds(pid) - before[name] for name, pid in pids.items()}
    per = ", ".join(f"{name} {1000 * s / max(1, confirmed):.2f}" for name, s in sorted(spent.items()) if s > 0.05)
    print(f"  confirmed signatures stored: {confirmed} (200 answers measured: {result['statuses'].get('200', 0)}, "
          f"statuses {result['statuses']}); CPU per confirmation (ms): {per}", flush=True)
    # How far behind: for each public count seen, since when had that many been confirmed (or more)?
    behind = 0.0
    for at, public, _ in samples:
        reached = next((t for t, _, stored_then in samples if stored_then > public), None)
        if reached is not None and reached < at:
            behind = max(behind, at - reached)
    last = samples[-1] if samples else (0, 0, 0)
    ok = rate >= TARGET_PER_SECOND and behind <= 2.0
    print(f"  the public count: at most {behind:.1f} s behind the confirmed signatures ({len(samples)} looks; "
          f"at the end {last[1]} shown for {last[2]} stored)")
    print(f"verdict, confirming: {rate:,.0f}/s (target {TARGET_PER_SECOND}), p99 {result['p99_ms']:.0f} ms, "
          f"count behind by {behind:.1f} s (target <= 2 s): {'met' if ok else 'MISSED'}", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
