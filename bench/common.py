"""What the kernel benchmarks share: throw-away databases, the environment line, profiling.

Each benchmark script patches eventlet itself, first thing, before importing
this module (as the services do), so the database drivers are the green ones.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import os
import platform
import pstats
import shutil
import sqlite3
import statistics
import tempfile
import time
import timeit
from contextlib import contextmanager
from itertools import groupby
from typing import Iterator, Sequence

from sqlalchemy import text

from umpnet_kernel.database import Database
from umpnet_kernel.green import eventlet_is_patched
from umpnet_kernel.store import EventStore, StreamAppend, create_kernel_tables
from umpnet_kernel.testing import temporary_database

from domain import PlannedEvent, bench_models

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Under the repository's git-ignored var/: on the real disk, never a tmpfs,
# so SQLite's fsyncs cost what they cost in production.
DEFAULT_SQLITE_DIR = os.path.join(REPO, "var", "bench")


def base_arguments(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--backend", choices=["sqlite", "postgresql", "both"], default="sqlite")
    parser.add_argument("--sqlite-dir", default=DEFAULT_SQLITE_DIR,
                        help="where the throw-away SQLite file goes (default: var/bench)")
    parser.add_argument("--profile", action="store_true", help="print a cProfile summary of the timed part")
    return parser


def backends(choice: str) -> list[str]:
    return ["sqlite", "postgresql"] if choice == "both" else [choice]


def filesystem_of(path: str) -> str:
    """'ext4 on /dev/vda' for the mount holding `path` (longest mount-point prefix)."""
    path = os.path.realpath(path)
    best = ("", "?", "?")
    with open("/proc/mounts") as mounts:
        for line in mounts:
            device, mount_point, fs_type = line.split()[:3]
            inside = path == mount_point or path.startswith(mount_point.rstrip("/") + "/")
            if inside and len(mount_point) > len(best[0]):
                best = (mount_point, fs_type, device)
    return f"{best[1]} on {best[2]}"


@contextmanager
def bench_database(backend: str, sqlite_dir: str = DEFAULT_SQLITE_DIR) -> Iterator[Database]:
    """A fresh database with the kernel's tables and the bench read model, dropped afterwards."""
    if backend == "sqlite":
        os.makedirs(sqlite_dir, exist_ok=True)
        directory = tempfile.mkdtemp(prefix="bench-", dir=sqlite_dir)
    else:
        directory = None
    try:
        with temporary_database(backend, directory or "") as db:
            with db.write() as conn:
                create_kernel_tables(conn)
                bench_models.create_all(conn)
            yield db
    finally:
        if directory:
            shutil.rmtree(directory, ignore_errors=True)


def fsync_probe(directory: str, count: int = 300) -> float:
    """Median microseconds to write 4 KiB and fdatasync it, in `directory` (the disk's commit latency)."""
    os.makedirs(directory, exist_ok=True)
    fd, path = tempfile.mkstemp(dir=directory, prefix="fsync-probe-")
    timings = []
    try:
        for i in range(count):
            start = time.perf_counter()
            os.pwrite(fd, b"x" * 4096, (i % 16) * 4096)
            os.fdatasync(fd)
            timings.append(time.perf_counter() - start)
    finally:
        os.close(fd)
        os.remove(path)
    return statistics.median(timings) * 1e6


def cpu_calibration() -> float:
    """Microseconds for `sum(range(1000))`, best of 20: to compare this CPU with others."""
    return min(timeit.repeat("sum(range(1000))", number=200, repeat=20)) / 200 * 1e6


def describe_environment(db: Database, sqlite_dir: str) -> str:
    lines = [
        f"python {platform.python_version()}, eventlet monkey patching: "
        + ("ON (as in production)" if eventlet_is_patched() else "OFF")
        + f"; {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} (other work on the machine skews figures)",
        f"CPU calibration: sum(range(1000)) takes {cpu_calibration():.1f} us; "
        f"disk: 4 KiB write + fdatasync takes {fsync_probe(sqlite_dir):.0f} us (median)",
    ]
    if db.is_sqlite:
        with db.read() as conn:
            sync = conn.exec_driver_sql("PRAGMA synchronous").scalar()
            journal = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
        names = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
        lines.append(
            f"SQLite {sqlite3.sqlite_version}, journal_mode={journal}, synchronous={names.get(sync, sync)}, "
            f"file under {sqlite_dir} ({filesystem_of(sqlite_dir)})"
        )
    else:
        with db.read() as conn:
            version = conn.execute(text("SHOW server_version")).scalar()
            fsync = conn.execute(text("SHOW fsync")).scalar()
            commit = conn.execute(text("SHOW synchronous_commit")).scalar()
        lines.append(f"PostgreSQL {version} on localhost, fsync={fsync}, synchronous_commit={commit}")
    return "\n".join("  " + line for line in lines)


def append_transaction(
    db: Database, store: EventStore, planned: Sequence[PlannedEvent], per_stream: bool = False
) -> None:
    """Append `planned` in one write transaction, each run of one stream as one append.

    All appends in one `store.append_many`, as a unit of work flushes its
    aggregates; or, `per_stream`, one `store.append` each (as it used to).
    """
    appends = []
    for stream_id, run in groupby(planned, key=lambda p: p.stream_id):
        run = list(run)
        appends.append(StreamAppend(stream_id, run[0].expected_version, [p.event for p in run], [p.meta for p in run]))
    with db.write() as conn:
        if per_stream:
            for append in appends:
                store.append(conn, *append)
        else:
            store.append_many(conn, appends)


@contextmanager
def maybe_profiled(enabled: bool, top: int = 30) -> Iterator[None]:
    if not enabled:
        yield
        return
    profiler = cProfile.Profile()
    profiler.enable()
    try:
        yield
    finally:
        profiler.disable()
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out).strip_dirs()
        stats.sort_stats("tottime").print_stats(top)
        print(out.getvalue())


class Timer:
    """Wall-clock seconds, and this process's CPU seconds (the database server's are not in it)."""

    def __enter__(self):
        self.start, self.cpu_start = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.start
        self.cpu_seconds = time.process_time() - self.cpu_start


def verdict(value: float, target: float | None) -> str:
    if target is None:
        return "(no target)"
    return f"target >= {target:,.0f}: {'MET' if value >= target else 'MISSED'}"
