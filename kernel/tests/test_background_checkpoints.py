"""The WAL is checkpointed in the background, not by the commits that fill it (sqlite.py).

Observable from outside: once a checkpoint has copied every frame, the next writer starts
the WAL over from its beginning, so the file stops growing. Without a checkpoint, the
writers' own one comes only at `WAL_AUTOCHECKPOINT_PAGES`, and the file grows until then.
"""
import os
import time

import eventlet
from sqlalchemy import text

from umpnet_kernel import sqlite as kernel_sqlite
from umpnet_kernel.database import Database

PAGE = 4096


def write_many(db: Database, start: int, transactions: int) -> None:
    for n in range(start, start + transactions):
        with db.write() as conn:
            conn.execute(text("INSERT INTO blobs (n, body) VALUES (:n, :body)"), {"n": n, "body": os.urandom(PAGE)})


def wal_pages(path: str) -> int:
    return os.path.getsize(path + "-wal") // PAGE


def grows_after_a_pause(tmp_path, name: str, started: list | None = None) -> tuple[int, int]:
    """WAL pages after a burst, then after a pause (a checkpoint's chance) and another burst."""
    path = str(tmp_path / name)
    db = Database(f"sqlite:///{path}")
    try:
        with db.write() as conn:
            conn.execute(text("CREATE TABLE blobs (n INTEGER PRIMARY KEY, body BLOB)"))
        write_many(db, 0, 1000)
        first = wal_pages(path)
        eventlet.sleep(kernel_sqlite.CHECKPOINT_EVERY_S + 0.1)
        asked = time.monotonic()
        write_many(db, 1000, 1)  # this write asks for a checkpoint; let it run to its end
        while started is not None and not any(at >= asked for at in started) and time.monotonic() < asked + 30:
            eventlet.sleep(0.01)
        write_many(db, 1001, 1000)
        with db.read() as conn:
            assert conn.execute(text("SELECT count(*) FROM blobs")).scalar() == 2001
            assert conn.execute(text("PRAGMA wal_autocheckpoint")).scalar() == kernel_sqlite.WAL_AUTOCHECKPOINT_PAGES
        return first, wal_pages(path)
    finally:
        db.dispose()


def test_after_a_background_checkpoint_the_wal_starts_over_instead_of_growing(tmp_path, monkeypatch):
    started, checkpoint = [], kernel_sqlite.BackgroundCheckpoints._checkpoint

    def noted(self):  # the times of the checkpoints that ran to their end
        at = time.monotonic()
        checkpoint(self)
        started.append(at)

    monkeypatch.setattr(kernel_sqlite.BackgroundCheckpoints, "_checkpoint", noted)
    first, then = grows_after_a_pause(tmp_path, "a.db", started)
    assert first > 1500  # ~2 pages a transaction, none checkpointed by the writers themselves
    assert then < first + 200  # the second burst (as large as the first) reused the file from its start


def test_without_the_background_checkpoints_the_wal_grows(tmp_path, monkeypatch):
    """The same writes with them switched off: the check above can fail."""
    monkeypatch.setattr(kernel_sqlite.BackgroundCheckpoints, "after_write", lambda self: None)
    first, then = grows_after_a_pause(tmp_path, "b.db")
    assert then > first + 1500
