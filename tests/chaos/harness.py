"""The fault harness: the real platform as separate OS processes, and the faults.

What runs, per scenario (nothing is shared with other tests or helpers):
- a RabbitMQ vhost of its own (made and deleted through the management API),
  reached through `BrokerProxy`, a TCP proxy in this process that can cut
  every connection and refuse new ones: a broker outage without touching the
  shared broker;
- a data directory of its own, and on PostgreSQL fresh databases;
- `SmtpSink`, a real SMTP server on a loopback port that records every message
  it accepts (the `.eml` file sink overwrites by id and would hide duplicates);
- every process `make run` starts (`umpnet procfile`), started as it starts them, after
  `umpnet migrate`; a process the harness kills is started again after a short
  delay, as a supervisor would; a process that exits by itself is not.
"""
from __future__ import annotations

import email
import email.policy
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timezone

import eventlet
import requests

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
RABBIT_HOST = "localhost"
RABBIT_PORT = 5672
RABBIT_MANAGEMENT = os.environ.get("RABBIT_MANAGEMENT_URL", "http://localhost:15672")
RABBIT_AUTH = ("guest", "guest")
RESTART_DELAY = 1.0  # what a supervisor waits before starting a dead process again


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --- SMTP sink ---------------------------------------------------------------
@dataclass(frozen=True)
class Received:
    recipient: str
    message_id: str
    subject: str
    text: str
    at: float  # time.time() when the final dot arrived

    @property
    def is_verification(self) -> bool:
        return "/verify?token=" in self.text


class SmtpSink:
    """A minimal SMTP server on a real socket: one record per recipient per message.

    A message counts as delivered when its final dot arrives (before the 250),
    as a real server would queue it: a client killed before it reads the 250
    sends the message again, and the copy shows here.
    """

    def __init__(self):
        self.received: list[Received] = []
        self.delay = 0.0  # seconds before each 250 "queued": a relay that takes its time
        self.server = eventlet.listen(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.url = f"smtp://127.0.0.1:{self.port}"
        self._accepting = eventlet.spawn(self._accept)

    def close(self):
        self._accepting.kill()
        self.server.close()

    def to(self, recipient: str) -> list[Received]:
        return [r for r in self.received if r.recipient == recipient]

    def by_recipient(self) -> dict[str, list[Received]]:
        out: dict[str, list[Received]] = {}
        for r in self.received:
            out.setdefault(r.recipient, []).append(r)
        return out

    def _accept(self):
        while True:
            conn, _ = self.server.accept()
            eventlet.spawn(self._session, conn)

    def _session(self, conn):
        try:
            with conn, conn.makefile("rb") as lines:
                conn.sendall(b"220 chaos-sink ready\r\n")
                rcpts: list[str] = []
                for line in lines:
                    verb = line[:4].upper()
                    if verb == b"EHLO":
                        conn.sendall(b"250-chaos-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")
                    elif verb == b"MAIL" or verb == b"RSET":
                        rcpts = []
                        conn.sendall(b"250 ok\r\n")
                    elif verb == b"RCPT":
                        address = line.decode("utf-8", "replace").split(":", 1)[1].strip()
                        rcpts.append(address.split(">")[0].lstrip("<").strip().lower())
                        conn.sendall(b"250 ok\r\n")
                    elif verb == b"DATA":
                        conn.sendall(b"354 go on\r\n")
                        body = []
                        for data_line in lines:
                            if data_line == b".\r\n":
                                break
                            body.append(data_line[1:] if data_line.startswith(b"..") else data_line)
                        else:
                            return  # the client died before the final dot: not a message
                        self._record(rcpts, b"".join(body))
                        if self.delay:
                            eventlet.sleep(self.delay)
                        conn.sendall(b"250 queued\r\n")
                    elif verb == b"QUIT":
                        conn.sendall(b"221 bye\r\n")
                        return
                    else:
                        conn.sendall(b"250 ok\r\n")
        except (OSError, EOFError):
            pass  # the mailer was killed mid-conversation

    def _record(self, rcpts, raw: bytes):
        at = time.time()
        message = email.message_from_bytes(raw, policy=email.policy.default)
        try:
            text = message.get_body(("plain",)).get_content()
        except Exception:  # noqa: BLE001 - an odd message still counts
            text = raw.decode("utf-8", "replace")
        for rcpt in rcpts:
            self.received.append(Received(rcpt, str(message.get("Message-ID", "")), str(message.get("Subject", "")), text, at))


# --- broker -------------------------------------------------------------------
class BrokerProxy:
    """A TCP proxy to RabbitMQ on a loopback port; `cut()` drops every connection
    and refuses new ones (the port stays closed) until `restore()`."""

    def __init__(self, upstream=(RABBIT_HOST, RABBIT_PORT)):
        self.upstream = upstream
        self.port = free_port()
        self._pairs: set = set()
        self._server = None
        self._accepting = None
        self.restore()

    def restore(self):
        if self._server is not None:
            return
        for _ in range(50):  # the port was ours a moment ago; it may linger briefly
            try:
                self._server = eventlet.listen(("127.0.0.1", self.port))
                break
            except OSError:
                eventlet.sleep(0.1)
        else:
            raise RuntimeError(f"cannot listen again on {self.port}")
        self._accepting = eventlet.spawn(self._accept, self._server)

    def cut(self):
        if self._server is None:
            return
        self._accepting.kill()
        self._server.close()
        self._server = None
        # Shut down, not closed under the pumps' feet: they see the end and close.
        for pair in list(self._pairs):
            for sock in pair:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
        self._pairs.clear()

    def close(self):
        self.cut()

    def _accept(self, server):
        while True:
            client, _ = server.accept()
            try:
                upstream = eventlet.connect(self.upstream)
            except OSError:
                client.close()
                continue
            pair = (client, upstream)
            self._pairs.add(pair)
            eventlet.spawn(self._pump, client, upstream, pair)
            eventlet.spawn(self._pump, upstream, client, pair)

    def _pump(self, source, target, pair):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                target.sendall(data)
        except (OSError, EOFError):
            pass
        finally:
            self._pairs.discard(pair)
            for sock in pair:
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            source.close()


@contextmanager
def rabbit_vhost():
    """A fresh vhost, guest allowed everything in it; deleted afterwards."""
    name = f"umpnet-chaos-{uuid.uuid4().hex[:10]}"
    base = f"{RABBIT_MANAGEMENT}/api"
    requests.put(f"{base}/vhosts/{name}", auth=RABBIT_AUTH, timeout=10).raise_for_status()
    try:
        requests.put(
            f"{base}/permissions/{name}/guest",
            json={"configure": ".*", "write": ".*", "read": ".*"},
            auth=RABBIT_AUTH,
            timeout=10,
        ).raise_for_status()
        yield name
    finally:
        requests.delete(f"{base}/vhosts/{name}", auth=RABBIT_AUTH, timeout=30)


def restart_real_broker(outage: float) -> None:
    """The shared RabbitMQ itself goes away (CHAOS_REAL_BROKER=1 only: never
    while other people use the broker)."""
    subprocess.run(["rabbitmqctl", "stop_app"], check=True, capture_output=True, timeout=120)
    try:
        time.sleep(outage)
    finally:
        subprocess.run(["rabbitmqctl", "start_app"], check=True, capture_output=True, timeout=300)


# --- the platform's processes -------------------------------------------------
def procfile() -> dict[str, list[str]]:
    """The processes `make run` starts (every service found, and the gateway), with this venv's `umpnet`."""
    from umpnet_ops.platform import process_argv, process_names

    return {name: process_argv(name) for name in process_names()}


class Process:
    def __init__(self, name: str, argv: list[str], env: dict, log_path: str):
        self.name, self.argv, self.env, self.log_path = name, argv, env, log_path
        self.popen: subprocess.Popen | None = None
        self.kills = 0

    def start(self):
        log = open(self.log_path, "ab")
        log.write(f"--- start {time.strftime('%H:%M:%S')}\n".encode())
        log.flush()
        self.popen = subprocess.Popen(
            self.argv, cwd=REPO, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self, down: float = RESTART_DELAY):
        """SIGKILL, then start again after `down` s, as a supervisor would."""
        self.popen.send_signal(signal.SIGKILL)
        self.popen.wait()
        self.kills += 1
        eventlet.sleep(down)
        self.start()

    def stop(self):
        """SIGTERM, SIGKILL after 5 s: never leaves a process behind the test."""
        if self.popen is None or self.popen.poll() is not None:
            return
        try:
            self.popen.terminate()
            self.popen.wait(5)
        except Exception:  # noqa: BLE001 - whatever happened, it must go
            try:
                os.killpg(self.popen.pid, signal.SIGKILL)
            except OSError:
                pass
            self.popen.wait()

    def log_tail(self, lines: int = 30) -> str:
        try:
            with open(self.log_path, "rb") as f:
                return b"".join(f.readlines()[-lines:]).decode("utf-8", "replace")
        except OSError:
            return ""


class Platform:
    """The running platform of one scenario. Use `with Platform.running(backend, tmp_path) as p`."""

    def __init__(self, env: dict, processes: dict[str, Process], sink: SmtpSink, proxy: BrokerProxy):
        self.env, self.processes, self.sink, self.proxy = env, processes, sink, proxy
        self.url = "http://" + env["GATEWAY_ADDRESS"]

    @classmethod
    @contextmanager
    def running(cls, backend: str, directory):
        from umpnet_kernel.testing import temporary_postgres_url

        with ExitStack() as stack:
            vhost = stack.enter_context(rabbit_vhost())
            proxy = BrokerProxy()
            stack.callback(proxy.close)
            sink = SmtpSink()
            stack.callback(sink.close)
            data_dir = os.path.join(str(directory), "data")
            env = {
                "PATH": BIN + os.pathsep + os.environ.get("PATH", ""),
                "HOME": os.environ.get("HOME", "/tmp"),
                "LANG": "C.UTF-8",
                "PYTHONUNBUFFERED": "1",
                "DATA_DIR": data_dir,
                "AMQP_URI": f"amqp://guest:guest@127.0.0.1:{proxy.port}/{vhost}",
                "SMTP_URL": sink.url,
                "SECRET_KEY": "chaos-" + uuid.uuid4().hex,
                "GATEWAY_ADDRESS": f"127.0.0.1:{free_port()}",
                "PUBLIC_URL": "http://chaos.invalid",
            }
            if backend == "postgresql":
                from umpnet_kernel.manifest import service_names

                for service in service_names():
                    env[f"{service.upper()}_DATABASE_URL"] = stack.enter_context(temporary_postgres_url())
            elif backend != "sqlite":
                raise ValueError(backend)
            migrated = subprocess.run(
                [os.path.join(BIN, "umpnet"), "migrate"], cwd=REPO, env=env, capture_output=True, timeout=180
            )
            assert migrated.returncode == 0, migrated.stdout.decode() + migrated.stderr.decode()
            processes = {
                name: Process(name, argv, env, os.path.join(str(directory), f"{name}.log"))
                for name, argv in procfile().items()
            }
            # Stopped before the databases are dropped and the vhost deleted.
            for process in processes.values():
                stack.callback(process.stop)
            for process in processes.values():
                process.start()
            platform = cls(env, processes, sink, proxy)
            platform.wait_healthy(90, why="at start")
            yield platform

    # -- probes ---------------------------------------------------------------
    def health(self) -> tuple[int | None, dict]:
        try:
            response = requests.get(self.url + "/health", timeout=5)
            return response.status_code, response.json()
        except (requests.RequestException, ValueError):
            return None, {}

    def is_healthy(self) -> bool:
        status, body = self.health()
        services = body.get("services") or {}
        return status == 200 and bool(services) and all(state == "ok" for state in services.values())

    def wait_healthy(self, within: float, why: str = "") -> float:
        """Seconds until GET /health says every service is ok; fails after `within`."""
        started = time.monotonic()
        while time.monotonic() - started < within:
            if self.is_healthy():
                return time.monotonic() - started
            self.assert_all_alive()
            eventlet.sleep(0.25)
        raise AssertionError(f"not healthy within {within:.0f} s {why}: last /health {self.health()}\n{self.logs()}")

    def dead(self) -> list[Process]:
        return [p for p in self.processes.values() if not p.alive()]

    def assert_all_alive(self):
        dead = self.dead()
        assert not dead, "exited for good: " + ", ".join(
            f"{p.name} (exit {p.popen.returncode})\n{p.log_tail()}" for p in dead
        )

    def logs(self, lines: int = 15) -> str:
        return "\n".join(f"--- {p.name}\n{p.log_tail(lines)}" for p in self.processes.values())

    def registrations(self) -> dict[str, datetime]:
        """Address -> when members recorded its MemberRegistered (its event store)."""
        from sqlalchemy import create_engine, text

        url = self.env.get("MEMBERS_DATABASE_URL") or f"sqlite:///{self.env['DATA_DIR']}/members.db"
        engine = create_engine(url)
        try:
            with engine.connect() as conn:
                rows = conn.execute(
                    text("SELECT data, recorded_at FROM events WHERE event_type = 'members.MemberRegistered'")
                ).all()
        finally:
            engine.dispose()
        out = {}
        for data, recorded_at in rows:
            if isinstance(recorded_at, str):
                recorded_at = datetime.fromisoformat(recorded_at)
            if recorded_at.tzinfo is None:
                recorded_at = recorded_at.replace(tzinfo=timezone.utc)
            out[json.loads(data)["email"]] = recorded_at
        return out


# --- load ---------------------------------------------------------------------
ACCEPTED, ANSWERED_ERROR, REFUSED, NO_ANSWER = "accepted", "answered_error", "refused", "no_answer"


@dataclass
class Outcome:
    email: str
    kind: str
    status: int | None = None
    answered_at: float = 0.0  # time.time()
    detail: str = ""
    retry_after: str | None = None


@dataclass
class Burst:
    """`count` sign-ups of new addresses from `clients` concurrent clients.

    Each request has a connection of its own, so an outcome is never blurred
    by a pooled connection that died: a refused connection means the gateway
    never saw the request.
    """

    platform: Platform
    count: int
    clients: int = 12
    timeout: float = 30.0
    outcomes: list[Outcome] = field(default_factory=list)
    recoveries: list = field(default_factory=list)
    started: float = 0.0
    faults_ended: float = 0.0

    def __post_init__(self):
        self.prefix = "chaos-" + uuid.uuid4().hex[:8]
        self.password = "Chaos-" + uuid.uuid4().hex[:12]

    def address(self, i: int) -> str:
        return f"{self.prefix}-{i}@example.org"

    def sign_up(self, i: int) -> Outcome:
        address = self.address(i)
        body = {"email": address, "password": self.password, "first_name": "Chaos",
                "last_name": "Monkey", "postcode": "75011"}
        try:
            response = requests.post(
                self.platform.url + "/api/members", json=body, timeout=self.timeout, headers={"Connection": "close"}
            )
        except requests.exceptions.ConnectionError as exc:
            refused = isinstance(exc.__context__, ConnectionRefusedError) or "refused" in str(exc).lower()
            outcome = Outcome(address, REFUSED if refused else NO_ANSWER, None, time.time(), type(exc).__name__)
        except requests.RequestException as exc:
            outcome = Outcome(address, NO_ANSWER, None, time.time(), type(exc).__name__)
        else:
            kind = ACCEPTED if response.status_code == 202 else ANSWERED_ERROR
            outcome = Outcome(address, kind, response.status_code, time.time(), response.text[:200],
                              response.headers.get("Retry-After"))
        self.outcomes.append(outcome)
        return outcome

    def run(self, faults=(), rate: float | None = None):
        """Send the burst, `rate` requests a second at most (all at once if None).

        Each fault is (seconds after the start, label, callable), run in its own
        greenthread; when it returns (the process is started again, the broker
        is back), the time until /health says every service is ok is measured
        into `recoveries` as (label, seconds, or None if not within 40 s or a
        process died).
        """
        self.started = time.time()
        injected = [eventlet.spawn(self._at, offset, label, fault) for offset, label, fault in faults]
        pool = eventlet.GreenPool(self.clients)
        for i in range(self.count):
            if rate:
                eventlet.sleep(max(0.0, self.started + i / rate - time.time()))
            pool.spawn(self.sign_up, i)
        pool.waitall()
        for thread in injected:
            thread.wait()
        return self

    def _at(self, offset: float, label: str, fault):
        eventlet.sleep(max(0.0, self.started + offset - time.time()))
        fault()
        self.faults_ended = time.time()
        back = time.monotonic()
        while time.monotonic() - back < 40 and not self.platform.dead():
            if self.platform.is_healthy():
                self.recoveries.append((label, time.monotonic() - back))
                return
            eventlet.sleep(0.25)
        self.recoveries.append((label, None))

    def of_kind(self, kind: str) -> list[Outcome]:
        return [o for o in self.outcomes if o.kind == kind]

    def summary(self) -> dict:
        counts: dict = {}
        for o in self.outcomes:
            key = o.kind if o.status is None else f"{o.kind} {o.status}"
            counts[key] = counts.get(key, 0) + 1
        return counts
