"""Sign-ups and logins per second through the gateway's HTTP API, and the argon2 ceiling.

    .venv/bin/python bench/signup_login.py [--clients 20,60] [--seconds 15] [--accounts 500] [--keep]

What runs (nothing of a running `make run` is touched):
  * a fresh RabbitMQ vhost (management API), deleted at the end;
  * a fresh data dir under var/bench-signup-XXXX (git-ignored, real disk), deleted
    at the end unless --keep;
  * `umpnet migrate`, `umpnet seed --members --accounts` (verified members sharing
    one password, for the logins), then every process `make run` starts (every
    service found by its manifest, and the gateway: `umpnet procfile`) as it starts
    them, the gateway on a free port; stopped with SIGTERM at the end.

Load (measured), for each number of clients in --clients: that many closed-loop
HTTP clients (one keep-alive connection each) for --seconds doing
`POST /api/members` with new addresses (each one an argon2 hash, a write and a
verification email), then as long doing `POST /api/sessions` for the seeded
accounts, round-robin (an argon2 check and a write). Figures: successful
answers per second over the phase, latency percentiles of every answer, and
the count of each other answer (429 would be the members' rate limits:
RATE_LIMIT_SCALE is set high for the run, a bench is one source address).

Ceiling, in the same run: bare argon2 hashes per second with the members
service's own parameters (`members.security._hasher`), in 1 and in 2 OS threads
(the service runs at most 2 at once): no gateway, RPC or database can beat it.

Aim (issue #6, item 22): 60 sign-ups/s or more on this machine, p95 well under
the gateway's 10 s deadline.
"""
import warnings

warnings.filterwarnings("ignore", message=r"(?s).*Eventlet is deprecated")  # printed on import

import eventlet  # noqa: E402

eventlet.monkey_patch()  # green HTTP clients, as many as asked, in one process

import argparse  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import sqlite3  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections import Counter  # noqa: E402
from urllib.parse import quote  # noqa: E402

import requests  # noqa: E402
from eventlet import tpool  # noqa: E402

from common import filesystem_of  # noqa: E402
from event_latency import CpuMeter, create_vhost, delete_vhost, load_average, machine, percentile  # noqa: E402
from umpnet_ops.seeding import SYNTHETIC_PASSWORD_FILE  # noqa: E402
from umpnet_ops.platform import procfile_entries  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(REPO, ".venv", "bin")
PASSWORD = "Bench-signup-2026"
DEADLINE_S = 30.0  # the client's own timeout: longer than the gateway's, to see its 503s


def arguments():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", default="20,60", help="concurrent clients, one phase pair each (default 20,60)")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of each phase (default 15)")
    parser.add_argument("--accounts", type=int, default=500, help="verified members seeded for the logins")
    parser.add_argument("--keep", action="store_true", help="keep the data dir (databases, logs, .eml files)")
    return parser.parse_args()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Platform:
    """A data dir, a vhost, and the platform's processes, torn down on exit."""

    def __init__(self, keep: bool):
        self.keep = keep
        os.makedirs(os.path.join(REPO, "var"), exist_ok=True)
        self.data_dir = tempfile.mkdtemp(prefix="bench-signup-", dir=os.path.join(REPO, "var"))
        self.vhost = f"bench-signup-{uuid.uuid4().hex[:8]}"
        self.address = f"127.0.0.1:{free_port()}"
        self.url = f"http://{self.address}"
        self.env = {k: v for k, v in os.environ.items() if not k.endswith("DATABASE_URL") and k != "SMTP_URL"}
        self.env.update(
            DATA_DIR=self.data_dir, SECRET_KEY="bench-signup-secret", PYTHONUNBUFFERED="1",
            AMQP_URI=f"amqp://guest:guest@localhost:5672/{quote(self.vhost, safe='')}",
            GATEWAY_ADDRESS=self.address, PUBLIC_URL=self.url, RATE_LIMIT_SCALE="100000",
            PATH=BIN + os.pathsep + os.environ.get("PATH", ""),
        )
        self.processes: dict[str, subprocess.Popen] = {}
        self.logs = []

    def __enter__(self):
        create_vhost(self.vhost)
        return self

    def umpnet(self, *args) -> None:
        result = subprocess.run([os.path.join(BIN, "umpnet"), *args], cwd=REPO, env=self.env,
                                capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"umpnet {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")

    def start_all(self) -> None:
        for name, command in procfile_entries():
            log = open(os.path.join(self.data_dir, f"{name}.log"), "wb")
            self.logs.append(log)
            # exec: the pid is the service's own (for the CPU figures and SIGTERM)
            self.processes[name] = subprocess.Popen(f"exec {command}", shell=True, cwd=REPO, env=self.env,
                                                    stdout=log, stderr=subprocess.STDOUT)

    def wait_healthy(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            for name, process in self.processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"{name} exited with {process.returncode}: see {self.data_dir}/{name}.log")
            try:
                if requests.get(f"{self.url}/health", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"the gateway's /health was not 200 within {timeout:.0f} s")
            eventlet.sleep(0.3)

    def registered(self, prefix: str) -> int:
        """Members whose address starts with `prefix`: sign-ups the members service carried out."""
        conn = sqlite3.connect(f"file:{self.data_dir}/members.db?mode=ro", uri=True, timeout=30)
        try:
            return conn.execute("SELECT count(*) FROM members WHERE email LIKE ?", (prefix + "%",)).fetchone()[0]
        finally:
            conn.close()

    def seeded_emails(self) -> list[str]:
        conn = sqlite3.connect(f"file:{self.data_dir}/members.db?mode=ro", uri=True, timeout=30)
        try:
            return [row[0] for row in conn.execute("SELECT email FROM members WHERE email LIKE 'seed-%'")]
        finally:
            conn.close()

    def __exit__(self, *exc):
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for log in self.logs:
            log.close()
        try:
            delete_vhost(self.vhost)
        finally:
            if self.keep:
                print(f"kept {self.data_dir}")
            else:
                shutil.rmtree(self.data_dir, ignore_errors=True)


# -- load ----------------------------------------------------------------------
def run_phase(url: str, clients: int, seconds: float, make_body) -> tuple[list, float]:
    """`clients` closed-loop clients for `seconds`: [(latency s, status)], elapsed s."""
    answers = []
    counter = iter(range(10**9))
    started = time.monotonic()
    stop_at = started + seconds

    def client(_):
        with requests.Session() as session:
            while time.monotonic() < stop_at:
                body = make_body(next(counter))
                begin = time.monotonic()
                try:
                    status = session.post(url, json=body, timeout=DEADLINE_S).status_code
                except requests.RequestException as exc:
                    status = type(exc).__name__
                answers.append((time.monotonic() - begin, status))

    pool = eventlet.GreenPool(clients)
    list(pool.imap(client, range(clients)))
    return answers, time.monotonic() - started


def report(label: str, answers: list, elapsed: float, ok: int) -> str:
    latencies = sorted(latency * 1000 for latency, _ in answers)
    good = sum(1 for _, status in answers if status == ok)
    others = Counter(status for _, status in answers if status != ok)
    return (f"  {label:<24} {good / elapsed:7.1f}/s  ({good} in {elapsed:.1f} s)   p50 {percentile(latencies, 50):6.0f}  "
            f"p95 {percentile(latencies, 95):6.0f}  p99 {percentile(latencies, 99):6.0f}  max {latencies[-1] if latencies else 0:6.0f} ms"
            + (f"   other answers: {dict(others)}" if others else ""))


def argon2_ceiling(seconds: float = 3.0) -> str:
    from members.security import _hasher

    parts = []
    for threads in (1, 2):
        done = []
        stop_at = time.monotonic() + seconds

        def worker(_):
            while time.monotonic() < stop_at:
                tpool.execute(_hasher.hash, PASSWORD)
                done.append(1)

        started = time.monotonic()
        list(eventlet.GreenPool(threads).imap(worker, range(threads)))
        parts.append(f"{len(done) / (time.monotonic() - started):.0f}/s in {threads} thread{'s' * (threads > 1)}")
    return (f"ceiling: bare argon2id hashes (m={_hasher.memory_cost // 1024} MiB, t={_hasher.time_cost}, "
            f"p={_hasher.parallelism}): " + ", ".join(parts))


def main() -> int:
    args = arguments()
    logging.getLogger("amqp").setLevel(logging.ERROR)
    print(f"machine: {machine()}; load average {load_average()} before the run")
    print(argon2_ceiling(), flush=True)
    with Platform(args.keep) as platform:
        print(f"data dir: {platform.data_dir} ({filesystem_of(platform.data_dir)}); vhost {platform.vhost}")
        clock = time.monotonic()
        platform.umpnet("migrate")
        platform.umpnet("seed", "--members", str(args.accounts))
        accounts = platform.seeded_emails()
        with open(os.path.join(platform.data_dir, SYNTHETIC_PASSWORD_FILE)) as f:
            seeded_password = f.read().strip()
        platform.start_all()
        platform.wait_healthy()
        print(f"setup: migrated, {len(accounts)} verified members seeded, members + mailer + gateway up "
              f"in {time.monotonic() - clock:.1f} s", flush=True)
        run_id = uuid.uuid4().hex[:6]
        for clients in [int(c) for c in args.clients.split(",")]:
            def sign_up(n, clients=clients):
                return {"email": f"bench.{run_id}.{clients}.{n}@example.org", "password": PASSWORD,
                        "first_name": "Bench", "last_name": "Signup", "postcode": "69003"}

            def log_in(n):
                return {"email": accounts[n % len(accounts)], "password": seeded_password}

            processes = {name: p.pid for name, p in platform.processes.items()}
            print(f"{clients} clients, {args.seconds:g} s each phase:", flush=True)
            with CpuMeter(processes) as cpu:
                answers, elapsed = run_phase(f"{platform.url}/api/members", clients, args.seconds, sign_up)
            ok = 202 if Counter(s for _, s in answers).get(202) else 201
            print(report(f"sign-ups (POST {ok})", answers, elapsed, ok))
            # What the members service did, whatever the gateway answered.
            done = platform.registered(f"bench.{run_id}.{clients}.")
            print(f"    members registered by the members service: {done} ({done / elapsed:.1f}/s)")
            print("    CPU in cores: " + cpu.cores_during_load())
            with CpuMeter(processes) as cpu:
                answers, elapsed = run_phase(f"{platform.url}/api/sessions", clients, args.seconds, log_in)
            print(report("logins (POST 200)", answers, elapsed, 200))
            print("    CPU in cores: " + cpu.cores_during_load(), flush=True)
    print(f"load average {load_average()} after the run")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
