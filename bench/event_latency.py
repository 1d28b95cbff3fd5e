"""Latency of one event, from its append in the members service to its effect in the mailer.

    .venv/bin/python bench/event_latency.py [--rate 200] [--seconds 15] [--members 200]
        [--warm-up 2] [--senders 50] [--arrival-timeout 60] [--keep] [--py-spy PATH]

What runs (nothing of a running `make run` is touched):
  * a fresh RabbitMQ vhost, made through the management API and deleted at the end;
  * a fresh data dir under var/bench-latency-XXXX (git-ignored, on the real disk,
    never a tmpfs: SQLite's fsyncs cost what they cost in production), deleted at
    the end unless --keep;
  * `umpnet migrate`, then the members and mailer services as `make run` starts
    them (`umpnet serve <svc>`), each its own process, stopped with SIGTERM at the end.

Setup (not measured): --members sign-ups through the members RPC `register`
(argon2: slow on purpose), and their verification emails queued and delivered.

Load (measured): an open loop of members RPC `resend_verification(email)` calls
for the unverified members, round-robin, one every 1/--rate seconds on a fixed
schedule (a call starts on time whether or not the previous ones have
returned; --senders RPC proxies at most in flight). Each call appends one
`members.EmailVerificationRequested`; the outbox relay publishes it; the
mailer's subscriber queues one email (`mailer.EmailQueued`).

Latency of one event = mailer `emails.queued_at` - members event `occurred_at`:
both are the wall clock of one machine, each taken when the event is built
inside its service's write transaction (so the mailer's own commit is not in
it; the `.eml` column, the file's mtime, comes after that commit and after
the postman's delivery). The email is found by the mailer's deterministic id,
`email_id_for(event_id, "verification")`. Events that occurred in the first
--warm-up seconds of the load are left out of the percentiles.

The breakdown splits the same latency at the mailer handler's start
(`processed_messages.processed_at`, taken by `first_delivery`): before it is
members commit + relay + broker + consumer dispatch, after it is the handler
up to its append.

CPU per event, per process (members, mailer, RabbitMQ's beam.smp): user + system
time from /proc over the load and the backlog after it, divided by the events
appended (RabbitMQ may be shared: what others make it do is in its figure).

Targets: p50 < 10 ms, p99 < 50 ms.
"""
import warnings

warnings.filterwarnings("ignore", message=r"(?s).*Eventlet is deprecated")  # printed on import

import eventlet  # noqa: E402

eventlet.monkey_patch()  # the RPC proxies below are green, as in the services

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import sqlite3  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from datetime import datetime, timezone  # noqa: E402
from urllib.parse import quote  # noqa: E402

import requests  # noqa: E402
from eventlet.queue import LightQueue  # noqa: E402
from nameko.standalone.rpc import ServiceRpcProxy  # noqa: E402

from mailer.application import email_id_for  # noqa: E402

from common import filesystem_of  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UMPNET = os.path.join(REPO, ".venv", "bin", "umpnet")
MANAGEMENT = "http://localhost:15672/api"
AUTH = ("guest", "guest")
TARGET_P50_MS = 10.0
TARGET_P99_MS = 50.0
EVENT_TYPE = "members.EmailVerificationRequested"
PASSWORD = "Bench-latency-2026"
EML_WAIT_S = 10.0  # how long to wait for the .eml files once every email is queued


def arguments():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=200.0, help="events per second (default 200)")
    parser.add_argument("--seconds", type=float, default=15.0, help="length of the load (default 15)")
    parser.add_argument("--members", type=int, default=200, help="members signed up first (default 200)")
    parser.add_argument("--warm-up", type=float, default=2.0, help="seconds left out of the percentiles (default 2)")
    parser.add_argument("--senders", type=int, default=50, help="RPC proxies, at most this many calls in flight")
    parser.add_argument("--arrival-timeout", type=float, default=60.0, help="how long to wait for the last emails")
    parser.add_argument("--keep", action="store_true", help="keep the data dir (databases, logs, .eml files)")
    parser.add_argument("--py-spy", metavar="PATH", help="py-spy binary: sample both services during the load "
                        "(busy samples only: where the CPU goes) into <data dir>/<service>.pyspy.txt (implies --keep)")
    return parser.parse_args()


# -- the machine ---------------------------------------------------------------
def machine() -> str:
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            model = next((line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), "?")
    except OSError:
        pass
    memory = "?"
    try:
        with open("/proc/meminfo") as f:
            kib = int(next(line.split()[1] for line in f if line.startswith("MemTotal")))
            memory = f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration):
        pass
    return f"{os.cpu_count()} CPU ({model}), {memory} RAM, python {platform.python_version()}"


# -- where the CPU went -----------------------------------------------------------
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def busy_seconds() -> float:
    """CPU seconds spent busy by the whole machine, all cores (from /proc/stat)."""
    with open("/proc/stat") as f:
        fields = [int(v) for v in f.readline().split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return (sum(fields[:8]) - idle) / CLOCK_TICKS


def process_seconds(pid: int) -> float:
    """user + system CPU seconds of one process (0 if it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def pids_named(name: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/comm") as f:
                    if f.read().strip() == name:
                        found.append(int(entry))
            except OSError:
                pass
    return found


class CpuMeter:
    """CPU used by each of our processes, RabbitMQ, and everything else, from /proc.

    `start()` before the load, `load_ended()` right after it (cores used while
    the load ran), `work_done()` once every event's email is queued and
    delivered: the CPU per event counts everything the load caused, the
    backlog worked off after the last call included.
    """

    def __init__(self, processes: dict[str, int]):
        self.processes = dict(processes, rabbitmq=(pids_named("beam.smp") or [0])[0], bench=os.getpid())

    def _sample(self):
        return time.monotonic(), busy_seconds(), {k: process_seconds(p) for k, p in self.processes.items()}

    def start(self):
        self.started = self._sample()

    def load_ended(self):
        self.at_load_end = self._sample()

    def __enter__(self):  # `with CpuMeter(...) as cpu:` around a load: start, then load_ended
        self.start()
        return self

    def __exit__(self, *exc):
        self.load_ended()
        return False

    def cores_during_load(self) -> str:
        wall, used = self._used(self.started, self.at_load_end)
        return ", ".join(f"{k} {v / wall:.2f}" for k, v in used.items())

    def work_done(self):
        self.at_work_done = self._sample()

    def _used(self, before, after) -> tuple[float, dict[str, float]]:
        """(wall seconds, {process: CPU seconds}), the rest of the machine as "other processes"."""
        (t0, busy0, own0), (t1, busy1, own1) = before, after
        used = {k: own1[k] - own0[k] for k in self.processes}
        used["other processes"] = max(0.0, (busy1 - busy0) - sum(used.values()))
        return t1 - t0, used

    def report(self, events: int) -> str:
        """Cores used during the load; CPU milliseconds per event, per process.

        RabbitMQ is shared: whatever else uses the broker meanwhile is in its figure.
        """
        cores = self.cores_during_load()
        wall, used = self._used(self.started, self.at_load_end)
        busy = sum(used.values()) / wall
        wall, used = self._used(self.started, self.at_work_done)
        ours = {k: v for k, v in used.items() if k not in ("bench", "other processes")}
        per_event = ", ".join(f"{k} {v / events * 1000:.2f}" for k, v in ours.items())
        return (f"CPU during the load, in cores (of {os.cpu_count()}): {cores}; machine busy {busy:.2f}\n"
                f"CPU per event, ms ({events} events, load and backlog, {wall:.1f} s): {per_event}; "
                f"total {sum(ours.values()) / events * 1000:.2f} (members + mailer + rabbitmq; "
                f"bench {used['bench'] / events * 1000:.2f}, other processes {used['other processes'] / events * 1000:.2f})")


def load_average() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


# -- the broker: a vhost of our own ----------------------------------------------
def create_vhost(name: str) -> None:
    url = f"{MANAGEMENT}/vhosts/{quote(name, safe='')}"
    requests.put(url, auth=AUTH, json={}, timeout=10).raise_for_status()
    permissions = f"{MANAGEMENT}/permissions/{quote(name, safe='')}/guest"
    requests.put(permissions, auth=AUTH, json={"configure": ".*", "write": ".*", "read": ".*"}, timeout=10).raise_for_status()


def delete_vhost(name: str) -> None:
    requests.delete(f"{MANAGEMENT}/vhosts/{quote(name, safe='')}", auth=AUTH, timeout=10)


# -- the services --------------------------------------------------------------
class Platform:
    """A data dir, a vhost, and the members and mailer processes, torn down on exit."""

    def __init__(self, keep: bool):
        self.keep = keep
        os.makedirs(os.path.join(REPO, "var"), exist_ok=True)
        self.data_dir = tempfile.mkdtemp(prefix="bench-latency-", dir=os.path.join(REPO, "var"))
        self.vhost = f"bench-latency-{uuid.uuid4().hex[:8]}"
        self.amqp_uri = f"amqp://guest:guest@localhost:5672/{quote(self.vhost, safe='')}"
        self.env = {
            key: value
            for key, value in os.environ.items()
            if key not in ("MEMBERS_DATABASE_URL", "MAILER_DATABASE_URL", "DATABASE_URL", "SMTP_URL")
        }
        self.env.update(
            DATA_DIR=self.data_dir,
            SECRET_KEY="bench-latency-secret",
            AMQP_URI=self.amqp_uri,
            PUBLIC_URL="http://localhost:8000",
            PYTHONUNBUFFERED="1",
            # the load resends to the same addresses over and over: lift the
            # per-address limits a real member would meet
            RATE_LIMIT_SCALE="1000000",
            MAIL_RATE_LIMIT="1000000000",
        )
        self.processes: dict[str, subprocess.Popen] = {}
        self.logs = {}
        self.config = {"AMQP_URI": self.amqp_uri}

    def __enter__(self):
        create_vhost(self.vhost)
        return self

    def migrate(self) -> None:
        result = subprocess.run([UMPNET, "migrate"], cwd=REPO, env=self.env, capture_output=True, text=True)
        if result.returncode != 0:
            raise RuntimeError(f"umpnet migrate failed:\n{result.stdout}\n{result.stderr}")

    def start(self, name: str) -> None:
        log = open(os.path.join(self.data_dir, f"{name}.log"), "wb")
        self.logs[name] = log
        self.processes[name] = subprocess.Popen(
            [UMPNET, "serve", name],  # a python script: this pid is the service's own (CPU figures)
            cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT,
        )

    def wait_healthy(self, name: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.processes[name].poll() is not None:
                raise RuntimeError(f"{name} exited with {self.processes[name].returncode}: see {self.log_path(name)}")
            try:
                with ServiceRpcProxy(name, self.config, timeout=2) as proxy:
                    proxy.health()
                return
            except Exception:
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} did not answer within {timeout:.0f} s") from None
                eventlet.sleep(0.2)

    def log_path(self, name: str) -> str:
        return os.path.join(self.data_dir, f"{name}.log")

    def db_path(self, name: str) -> str:
        return os.path.join(self.data_dir, f"{name}.db")

    def stop_services(self) -> dict[str, int | None]:
        """SIGTERM, then wait (nameko stops its workers gracefully); SIGKILL after 30 s."""
        for process in self.processes.values():
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        codes = {}
        for name, process in self.processes.items():
            try:
                codes[name] = process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                codes[name] = process.wait()
        for log in self.logs.values():
            log.close()
        return codes

    def __exit__(self, *exc):
        self.stop_services()
        try:
            delete_vhost(self.vhost)
        finally:
            if self.keep:
                print(f"kept {self.data_dir}")
            else:
                shutil.rmtree(self.data_dir, ignore_errors=True)


# -- reading the two stores ------------------------------------------------------
def utc(text: str) -> datetime:
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def query(path: str, sql: str, params=()) -> list:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


def head_position(services: Platform) -> int:
    return query(services.db_path("members"), "SELECT coalesce(max(position), 0) FROM events")[0][0]


def verification_events(services: Platform, after_position: int) -> list[tuple[int, str, datetime]]:
    """(position, event_id, occurred_at) of every verification request after `after_position`."""
    rows = query(
        services.db_path("members"),
        "SELECT position, event_id, meta FROM events WHERE event_type = ? AND position > ? ORDER BY position",
        (EVENT_TYPE, after_position),
    )
    return [(position, event_id, utc(json.loads(meta)["occurred_at"])) for position, event_id, meta in rows]


def mailer_emails(services: Platform) -> dict[str, tuple[datetime, str]]:
    """email_id -> (queued_at, status)."""
    rows = query(services.db_path("mailer"), "SELECT email_id, queued_at, status FROM emails")
    return {email_id: (utc(queued_at), status) for email_id, queued_at, status in rows}


def handler_starts(services: Platform) -> dict[str, datetime]:
    """members event_id -> when the mailer's handler recorded its first delivery."""
    rows = query(
        services.db_path("mailer"),
        "SELECT event_id, processed_at FROM processed_messages WHERE consumer = 'mailer.verification'",
    )
    return {event_id: utc(at) for event_id, at in rows}


def wait_for(predicate, timeout: float, interval: float = 0.2):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() > deadline:
            return value
        eventlet.sleep(interval)


# -- load ------------------------------------------------------------------------
def sign_up(services: Platform, count: int, concurrency: int = 4) -> list[str]:
    emails = [f"bench.member{n}@example.org" for n in range(count)]
    proxies = LightQueue()
    opened = [ServiceRpcProxy("members", services.config, timeout=60) for _ in range(concurrency)]
    for proxy in opened:
        proxies.put(proxy.start())

    def register(n_email):
        n, email = n_email
        proxy = proxies.get()
        try:
            proxy.register(
                {"email": email, "password": PASSWORD, "first_name": f"Bench{n}", "last_name": "Latency",
                 "postcode": "69003"},
            )
        finally:
            proxies.put(proxy)

    pool = eventlet.GreenPool(concurrency)
    list(pool.imap(register, enumerate(emails)))
    for proxy in opened:
        proxy.stop()
    return emails


class OpenLoop:
    """Calls `resend_verification` on a fixed schedule, whatever the answers' pace."""

    def __init__(self, services: Platform, emails: list[str], rate: float, seconds: float, senders: int):
        self.services = services
        self.emails = emails
        self.rate = rate
        self.count = int(rate * seconds)
        self.senders = senders
        self.late: list[float] = []  # how late each call started (s)
        self.rpc: list[float] = []  # each call's round trip (s)
        self.errors: list[str] = []

    def run(self) -> tuple[float, float]:
        opened = [ServiceRpcProxy("members", self.services.config, timeout=30) for _ in range(self.senders)]
        proxies = LightQueue()
        for proxy in opened:
            proxies.put(proxy.start())
        pool = eventlet.GreenPool(self.senders + 1)
        interval = 1.0 / self.rate
        started = time.monotonic()
        wall_started = time.time()
        try:
            for n in range(self.count):
                due = started + n * interval
                delay = due - time.monotonic()
                if delay > 0:
                    eventlet.sleep(delay)
                pool.spawn_n(self._call, proxies, self.emails[n % len(self.emails)], due)
            pool.waitall()
        finally:
            for proxy in opened:
                try:
                    proxy.stop()
                except Exception:
                    pass
        return wall_started, time.monotonic() - started

    def _call(self, proxies, email, due):
        proxy = proxies.get()
        begin = time.monotonic()
        self.late.append(begin - due)
        try:
            proxy.resend_verification(email)
            self.rpc.append(time.monotonic() - begin)
        except Exception as exc:
            self.errors.append(type(exc).__name__)
        finally:
            proxies.put(proxy)


# -- figures ---------------------------------------------------------------------
def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile of already sorted values."""
    if not sorted_values:
        return float("nan")
    rank = max(1, min(len(sorted_values), int(-(-p * len(sorted_values) // 100))))
    return sorted_values[rank - 1]


def summary(values_ms: list[float]) -> str:
    values = sorted(values_ms)
    return "p50 {:7.2f}  p90 {:7.2f}  p99 {:7.2f}  max {:7.2f}  ms  (n={})".format(
        percentile(values, 50), percentile(values, 90), percentile(values, 99), values[-1] if values else float("nan"),
        len(values),
    )


def main() -> int:
    args = arguments()
    logging.getLogger("amqp").setLevel(logging.ERROR)  # proxies closing warn about late confirms
    print(f"machine: {machine()}; load average {load_average()} before the run")
    with Platform(args.keep or bool(args.py_spy)) as services:
        print(f"data dir: {services.data_dir} ({filesystem_of(services.data_dir)}); vhost {services.vhost}")
        services.migrate()
        services.start("mailer")
        services.start("members")
        services.wait_healthy("mailer")
        services.wait_healthy("members")

        clock = time.monotonic()
        emails = sign_up(services, args.members)
        setup_events = verification_events(services, 0)
        arrived = wait_for(lambda: len(mailer_emails(services)) >= len(setup_events), args.arrival_timeout)
        wait_for(lambda: all(s == "sent" for _, s in mailer_emails(services).values()), args.arrival_timeout)
        print(f"setup: {len(emails)} members signed up, their {len(setup_events)} emails "
              f"{'queued and sent' if arrived else 'NOT all queued'} in {time.monotonic() - clock:.1f} s")

        start_position = head_position(services)
        load = OpenLoop(services, emails, args.rate, args.seconds, args.senders)
        print(f"load: {load.count} resend_verification calls at {args.rate:g}/s for {args.seconds:g} s "
              f"(open loop, up to {args.senders} in flight)…", flush=True)
        samplers = [
            subprocess.Popen([args.py_spy, "record", "--format", "raw", "--rate", "250",
                              "-d", str(int(args.seconds + 1)), "-p", str(process.pid),
                              "-o", os.path.join(services.data_dir, f"{name}.pyspy.txt")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for name, process in services.processes.items()
        ] if args.py_spy else []
        cpu = CpuMeter({name: p.pid for name, p in services.processes.items()})
        cpu.start()
        wall_started, elapsed = load.run()
        cpu.load_ended()
        for sampler in samplers:
            sampler.wait()

        events = verification_events(services, start_position)
        expected = {email_id_for(event_id, "verification"): (event_id, occurred) for _, event_id, occurred in events}
        clock = time.monotonic()
        wait_for(lambda: expected.keys() <= mailer_emails(services).keys(), args.arrival_timeout)
        drained = time.monotonic() - clock
        queued = mailer_emails(services)
        starts = handler_starts(services)
        mail_dir = os.path.join(services.data_dir, "mail")
        wait_for(lambda: all(os.path.exists(os.path.join(mail_dir, f"{e}.eml")) for e in expected), EML_WAIT_S)
        cpu.work_done()

        warm_up_end = wall_started + args.warm_up
        latencies, to_handler, in_handler, to_file = [], [], [], []
        missing = []
        for email_id, (event_id, occurred) in expected.items():
            if email_id not in queued:
                missing.append(event_id)
                continue
            if occurred.timestamp() < warm_up_end:
                continue
            queued_at = queued[email_id][0]
            latencies.append((queued_at - occurred).total_seconds() * 1000)
            if event_id in starts:
                to_handler.append((starts[event_id] - occurred).total_seconds() * 1000)
                in_handler.append((queued_at - starts[event_id]).total_seconds() * 1000)
            path = os.path.join(mail_dir, f"{email_id}.eml")
            if os.path.exists(path):
                to_file.append((os.stat(path).st_mtime - occurred.timestamp()) * 1000)
        codes = services.stop_services()

    occurred_times = sorted(o.timestamp() for _, _, o in events)
    span = occurred_times[-1] - occurred_times[0] if len(occurred_times) > 1 else float("nan")
    late = sorted(load.late)
    print()
    print(f"calls: {len(load.rpc)} answered, {len(load.errors)} failed"
          + (f" ({', '.join(sorted(set(load.errors)))})" if load.errors else "")
          + f"; sent in {elapsed:.2f} s = {load.count / elapsed:.1f} calls/s "
          f"(start lateness p99 {percentile(late, 99) * 1000:.1f} ms, max {late[-1] * 1000:.1f} ms)")
    print(f"events: {len(events)} appended by members over {span:.2f} s = {(len(events) - 1) / span:.1f} events/s; "
          f"{len(events) - len(missing)} reached the mailer, {len(missing)} missing "
          f"(waited {drained:.1f} s after the last call)")
    achieved = (len(events) - 1) / span
    if achieved < 0.95 * args.rate:
        print(f"  NOTE: the members service appended {achieved:.0f} events/s, not the {args.rate:g}/s offered: "
              "the calls queued up (see the RPC round trip)")
    print(f"percentiles over {len(latencies)} events (the first {args.warm_up:g} s of load left out as warm-up):")
    print(f"  append -> email queued (target)  {summary(latencies)}")
    print(f"    append -> mailer handler start {summary(to_handler)}")
    print(f"    handler start -> queued         {summary(in_handler)}")
    print(f"  append -> .eml written           {summary(to_file)}"
          + ("" if len(to_file) == len(latencies) else f" (only those written {EML_WAIT_S:g} s after the last was queued)"))
    print(f"  members RPC round trip           {summary([s * 1000 for s in load.rpc])}")
    values = sorted(latencies)
    p50, p99 = percentile(values, 50), percentile(values, 99)
    ok50, ok99 = p50 < TARGET_P50_MS, p99 < TARGET_P99_MS
    print(cpu.report(max(1, len(events))))
    print(f"targets: p50 {p50:.2f} ms < {TARGET_P50_MS:g} ms {'MET' if ok50 else 'MISSED'}; "
          f"p99 {p99:.2f} ms < {TARGET_P99_MS:g} ms {'MET' if ok99 else 'MISSED'}"
          + ("" if not missing else f"; {len(missing)} events never arrived"))
    print(f"services stopped (exit codes: {', '.join(f'{k} {v}' for k, v in codes.items())})")
    return 0 if ok50 and ok99 and not missing and not load.errors else 1


if __name__ == "__main__":
    sys.exit(main())
