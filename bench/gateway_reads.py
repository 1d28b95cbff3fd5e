"""Public reads per second through the gateway, against the bare eventlet WSGI ceiling of the same run.

    .venv/bin/python bench/gateway_reads.py [--connections 32] [--seconds 8] [--keep]

What runs (nothing of a running `make run` is touched):
  * the ceiling: a bare eventlet WSGI process (no nameko, no werkzeug, no access
    log) answering a tiny JSON body, the most any eventlet web process can do here,
    measured first and again last (the aim is judged against the better of the two);
  * then the platform as `make run` starts it (`umpnet procfile`: every service and
    the gateway) on a fresh RabbitMQ vhost and data dir under var/ (deleted at the end
    unless --keep), the gateway on a free port; `umpnet seed` gives the counts a
    few hundred members;
  * each read twice: the gateway started with GATEWAY_CACHE=0 (every read is a
    nameko worker and an RPC to the members service: the "before"), then
    restarted with its public-read cache on (the "after").

Load: --connections keep-alive HTTP/1.1 connections (32, as the issue asks),
closed loop, from a separate client process (asyncio, raw sockets: the client
must cost far less than the server, or it is the client that is measured) for
--seconds after one second of warm-up. Figures: answers per second, p50 and
p99 latency, the ratio to the ceiling, and the gateway's CPU per answer.

Aim (issue 7, item 8): a cached read at >= 2,000 answers/s and >= a quarter of
the ceiling, p99 under 50 ms at 32 connections.
"""
import sys

# Two helper modes of this same script, run as child processes: they must not
# be monkey-patched (the client is asyncio, the ceiling is eventlet's own server).
if __name__ == "__main__" and len(sys.argv) > 1 and sys.argv[1] in ("--client", "--bare-server"):
    MODE = sys.argv[1]
else:
    MODE = "bench"

import asyncio  # noqa: E402
import json  # noqa: E402
import os  # noqa: E402
import signal  # noqa: E402
import socket  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

TINY_BODY = b'{"status":"ok"}'


# -- the ceiling: a bare eventlet WSGI process --------------------------------------
def bare_server(port: int) -> None:
    import warnings

    warnings.filterwarnings("ignore", message=r"(?s).*Eventlet is deprecated")
    import eventlet
    import eventlet.wsgi

    def app(environ, start_response):
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(TINY_BODY)))])
        return [TINY_BODY]

    eventlet.wsgi.server(eventlet.listen(("127.0.0.1", port), backlog=1024), app, log_output=False,
                         max_size=2048)


# -- the client: keep-alive connections on raw sockets ----------------------------------
class _Connection(asyncio.Protocol):
    """One closed-loop keep-alive connection: the next request leaves as soon as an answer is whole.

    A protocol rather than asyncio streams: about a third of the client's CPU
    per request, so that the client is not what is measured."""

    def __init__(self, request: bytes, warm_until: float, stop_at: float, latencies: list, statuses: dict, done):
        self.request, self.warm_until, self.stop_at = request, warm_until, stop_at
        self.latencies, self.statuses, self.done = latencies, statuses, done
        self.buffer = b""

    def connection_made(self, transport):
        self.transport = transport
        self._send()

    def _send(self):
        self.started = time.perf_counter()
        if self.started >= self.stop_at:
            self.transport.close()
            return
        self.transport.write(self.request)

    def data_received(self, data):
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end]
            length = 0
            at = head.lower().find(b"\r\ncontent-length:")
            if at >= 0:
                stop = head.find(b"\r\n", at + 2)
                length = int(head[at + 17:stop if stop >= 0 else len(head)])
            if len(self.buffer) < end + 4 + length:
                return
            self.buffer = self.buffer[end + 4 + length:]
            if self.started >= self.warm_until:
                self.latencies.append(time.perf_counter() - self.started)
                status = int(head[9:12])
                self.statuses[status] = self.statuses.get(status, 0) + 1
            self._send()

    def connection_lost(self, exc):
        if not self.done.done():
            self.done.set_result(exc)


async def _load(url: str, connections: int, seconds: float, headers: dict) -> dict:
    hostport, _, path = url.removeprefix("http://").partition("/")
    host, _, port = hostport.partition(":")
    extra = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    request = f"GET /{path} HTTP/1.1\r\nHost: {hostport}\r\n{extra}\r\n".encode()
    latencies, statuses = [], {}
    loop = asyncio.get_running_loop()
    warm_until = time.perf_counter() + 1.0
    stop_at = warm_until + seconds
    finished = []
    for _ in range(connections):
        done = loop.create_future()
        await loop.create_connection(lambda done=done: _Connection(request, warm_until, stop_at, latencies, statuses, done),
                                     host, int(port))
        finished.append(done)
    await asyncio.gather(*finished)
    latencies.sort()

    def percentile(p):
        return 1000 * latencies[min(len(latencies) - 1, int(len(latencies) * p / 100))] if latencies else float("nan")

    return {"answers": len(latencies), "seconds": seconds, "statuses": statuses, "p50_ms": percentile(50),
            "p95_ms": percentile(95), "p99_ms": percentile(99), "max_ms": percentile(100),
            "client_cpu_s": time.process_time()}


def client(argv) -> None:
    url, connections, seconds = argv[0], int(argv[1]), float(argv[2])
    headers = json.loads(argv[3]) if len(argv) > 3 else {}
    print(json.dumps(asyncio.run(_load(url, connections, seconds, headers))))


if MODE == "--client":
    client(sys.argv[2:])
    raise SystemExit(0)
if MODE == "--bare-server":
    bare_server(int(sys.argv[2]))
    raise SystemExit(0)

# -- the benchmark (patched, as the other benchmarks and the services are) ----------------
import warnings  # noqa: E402

warnings.filterwarnings("ignore", message=r"(?s).*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()

import argparse  # noqa: E402
import logging  # noqa: E402

import requests  # noqa: E402

from common import filesystem_of  # noqa: E402
from event_latency import load_average, machine, process_seconds  # noqa: E402
from signup_login import Platform, free_port  # noqa: E402
from umpnet_ops.platform import procfile_entries  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
THIS = os.path.abspath(__file__)
PYTHON = sys.executable
TARGET_PER_SECOND = 2000
TARGET_P99_MS = 50


def arguments():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=8.0, help="measured seconds per read (after 1 s of warm-up)")
    parser.add_argument("--members", type=int, default=300, help="members seeded, so the counts are not zero")
    parser.add_argument("--keep", action="store_true", help="keep the data dir (databases, logs)")
    return parser.parse_args()


def measure(url: str, connections: int, seconds: float, headers: dict | None = None) -> dict:
    """Run the client process against `url` (a green wait: the gateway's CPU is read meanwhile)."""
    command = [PYTHON, THIS, "--client", url, str(connections), str(seconds), json.dumps(headers or {})]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, cwd=REPO)
    out, _ = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"the load client failed on {url}")
    return json.loads(out)


def line(label: str, result: dict, ceiling: float | None, cpu_cores: float | None = None) -> str:
    rate = result["answers"] / result["seconds"]
    ratio = f"{rate / ceiling:5.2f} of the ceiling" if ceiling else ""
    statuses = ", ".join(f"{n}x{s}" for s, n in sorted(result["statuses"].items()))
    cpu = f"  server {cpu_cores:.2f} core, {1e6 * cpu_cores / rate:5.0f} us CPU/answer" if cpu_cores and rate else ""
    client = result["client_cpu_s"] / (result["seconds"] + 1)  # its CPU over warm-up and measure
    return (f"  {label:<44} {rate:7,.0f}/s  p50 {result['p50_ms']:5.1f}  p95 {result['p95_ms']:5.1f}  "
            f"p99 {result['p99_ms']:5.1f}  max {result['max_ms']:5.0f} ms  {ratio}{cpu}, client {client:.2f} core  [{statuses}]")


class ServerCpu:
    """Cores one server process used over a window: its own CPU seconds / wall seconds."""

    def __init__(self, pid: int):
        self.pid = pid

    def __enter__(self):
        self.started, self.cpu_started = time.monotonic(), process_seconds(self.pid)
        return self

    def __exit__(self, *exc):
        self.cores = (process_seconds(self.pid) - self.cpu_started) / (time.monotonic() - self.started)


class ReadsPlatform(Platform):
    """signup_login's platform, whose gateway can be restarted with other settings."""

    def start_gateway(self, **env) -> None:
        old = self.processes.pop("gateway", None)
        if old is not None:
            old.send_signal(signal.SIGTERM)
            old.wait(timeout=30)
        command = dict(procfile_entries())["gateway"]
        log = open(os.path.join(self.data_dir, "gateway.log"), "ab")
        self.logs.append(log)
        self.processes["gateway"] = subprocess.Popen(f"exec {command}", shell=True, cwd=REPO,
                                                     env={**self.env, **env}, stdout=log, stderr=subprocess.STDOUT)
        self.wait_healthy()


def bare_ceiling(args, when: str = "") -> float:
    """Answers per second of a bare eventlet WSGI process, printed; the process is stopped after."""
    port = free_port()
    bare = subprocess.Popen([PYTHON, THIS, "--bare-server", str(port)], cwd=REPO)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                eventlet.sleep(0.1)
        with ServerCpu(bare.pid) as cpu:
            result = measure(f"http://127.0.0.1:{port}/", args.connections, args.seconds)
        label = "ceiling: bare eventlet WSGI, tiny JSON" + (f" ({when})" if when else "")
        print(line(label, result, None, cpu.cores), flush=True)
        return result["answers"] / result["seconds"]
    finally:
        bare.send_signal(signal.SIGTERM)
        bare.wait(timeout=10)


def main() -> int:
    args = arguments()
    logging.getLogger("amqp").setLevel(logging.ERROR)
    print(f"machine: {machine()}; load average {load_average()} before the run")
    print(f"{args.connections} keep-alive connections, {args.seconds:g} s measured per line (after 1 s warm-up), "
          "client: one asyncio process on raw sockets", flush=True)

    ceilings = [bare_ceiling(args)]  # measured again at the end: a shared machine's noise comes and goes
    ceiling = ceilings[0]
    with ReadsPlatform(args.keep) as platform:
        print(f"data dir: {platform.data_dir} ({filesystem_of(platform.data_dir)}); vhost {platform.vhost}")
        platform.umpnet("migrate")
        platform.umpnet("seed", "--members", str(args.members))
        # every process as `make run` starts them; the gateway again below, without then with its cache
        platform.start_all()
        paths = ["/api/themes", "/api/federations", "/", "/health"]
        figures = {}
        for cache in ("0", "1"):
            platform.start_gateway(GATEWAY_CACHE=cache)
            state = "cache on " if cache == "1" else "cache off"
            print(f"gateway with GATEWAY_CACHE={cache} ({'kept public reads' if cache == '1' else 'one RPC per read, as before'}):",
                  flush=True)
            pid = platform.processes["gateway"].pid
            for path in paths + (["/api/federations 304"] if cache == "1" else []):
                url_path, _, conditional = path.partition(" ")
                headers = {}
                if conditional:
                    headers["If-None-Match"] = requests.get(platform.url + url_path, timeout=10).headers["ETag"]
                with ServerCpu(pid) as cpu:
                    result = measure(platform.url + url_path, args.connections, args.seconds, headers)
                cores = cpu.cores
                label = f"GET {url_path}{' (If-None-Match: 304)' if conditional else ''}  {state}"
                print(line(label, result, ceiling, cores), flush=True)
                figures[(path, cache)] = result
    ceilings.append(bare_ceiling(args, "again, after the gateway"))
    ceiling = max(ceilings)
    print(f"aim: a cached read >= 2,000/s and >= 0.25 of the ceiling (the better of the two, {ceiling:,.0f}/s), "
          "p99 < 50 ms:")
    for path in ("/api/themes", "/api/federations", "/"):
        result = figures[(path, "1")]
        rate = result["answers"] / result["seconds"]
        met = rate >= TARGET_PER_SECOND and rate >= ceiling / 4 and result["p99_ms"] < TARGET_P99_MS
        before = figures[(path, "0")]["answers"] / figures[(path, "0")]["seconds"]
        print(f"  GET {path:<18} {before:7,.0f}/s -> {rate:7,.0f}/s (x{rate / max(before, 1e-9):.1f}), "
              f"p99 {result['p99_ms']:.1f} ms: {'MET' if met else 'MISSED'}")
    print(f"load average {load_average()} after the run")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
