"""Rate limits: counters in fixed windows, counted atomically in the database.

Operational state, not domain events: rows expire with their window. Keys are
HMACs keyed with the installation's secret (`umpnet_kernel.links.keyed_hash`)
of what is counted (an address, a client address, both), so the table says
nothing about who did what from where to whoever reads the file.

Counting is one upsert that returns the new count, in the caller's
transaction: thirty parallel attempts get thirty distinct counts, where a
read-then-write let thirteen through before the lock. Several keys counted
at once (an address and a client address): `hit_many`, one statement for
them all; a batch of requests counted together and some of them refused
afterwards: `add_many`, then `refund_many` for the refused.
A service that limits anything lists `throttle_metadata` in its manifest's
`tables` and creates the table in a migration (`create_throttle_table_v1`).
"""
from __future__ import annotations

import math
from functools import lru_cache
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Iterable, Sequence

import sqlalchemy as sa
from sqlalchemy import Column, Connection, DateTime, Integer, MetaData, String, Table, bindparam, case, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from .fast import execute_compiled

throttle_metadata = MetaData()
throttle_counters = Table(
    "throttle_counters",
    throttle_metadata,
    Column("key", String(64), primary_key=True),
    Column("count", Integer, nullable=False),
    Column("window_ends_at", DateTime(timezone=True), nullable=False),
)
_c = throttle_counters.c


@dataclass(frozen=True)
class Limit:
    count: int
    window: timedelta


def utc_aware(moment: datetime | None) -> datetime | None:
    """SQLite gives naive UTC datetimes back: the zone they were written with."""
    return moment.replace(tzinfo=timezone.utc) if moment is not None and moment.tzinfo is None else moment


def create_throttle_table_v1(op) -> None:
    """The counters' table, for a service's alembic migration (the same as members' 0002)."""
    op.create_table(
        "throttle_counters",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("count", sa.Integer, nullable=False),
        sa.Column("window_ends_at", sa.DateTime(timezone=True), nullable=False),
    )


@lru_cache(maxsize=None)
def _hit_statement(dialect_name: str):
    """The upsert that counts one more, built once per dialect, its values bound per call
    (a statement built per call made SQLAlchemy coerce and cache-key it every time:
    ~0.3 ms against ~0.04)."""
    insert = (postgresql if dialect_name == "postgresql" else sqlite).insert(throttle_counters)
    statement = insert.values(key=bindparam("key"), count=1, window_ends_at=bindparam("ends"))
    expired = _c.window_ends_at <= bindparam("now", type_=_c.window_ends_at.type)
    return statement.on_conflict_do_update(
        index_elements=[_c.key],
        set_={
            "count": case((expired, 1), else_=_c.count + 1),
            "window_ends_at": case((expired, statement.excluded.window_ends_at), else_=_c.window_ends_at),
        },
    ).returning(_c.count, _c.window_ends_at)


def hit(conn: Connection, key: str, limit: Limit, now: datetime) -> tuple[int, datetime]:
    """Count one more in `key`'s window (a new window if the last one ended):
    (the count now, when the window ends)."""
    found = conn.execute(_hit_statement(conn.dialect.name),
                         {"key": key, "ends": now + limit.window, "now": now}).one()
    return found.count, utc_aware(found.window_ends_at)


def hit_many(conn: Connection, hits: Sequence[tuple[str, Limit]], now: datetime) -> list[tuple[int, datetime]]:
    """`hit` for each (key, limit): (count, window end) of each, in the order given,
    as many `hit`s one after the other would give them; a key given twice is
    counted twice (its second count one more than its first).

    One statement for them all (`add_many`); its rows in key order, so two
    callers counting the same keys take PostgreSQL's row locks in the same
    order and cannot deadlock."""
    counted = add_many(conn, tally(hits), now)
    seen: dict[str, int] = {}
    answers = []
    for key, _ in hits:
        before, ends = counted[key]
        seen[key] = seen.get(key, 0) + 1
        answers.append((before + seen[key], ends))
    return answers


def tally(hits: Iterable[tuple[str, Limit]]) -> list[tuple[str, Limit, int]]:
    """(key, limit, n) of each distinct key among `hits`, for `add_many`: a key's
    window is the one its first hit names."""
    deltas: dict[str, tuple[Limit, int]] = {}
    for key, limit in hits:
        first, n = deltas.get(key, (limit, 0))
        deltas[key] = (first, n + 1)
    return [(key, limit, n) for key, (limit, n) in deltas.items()]


def add_many(conn: Connection, deltas: Sequence[tuple[str, Limit, int]], now: datetime) -> dict[str, tuple[int, datetime]]:
    """Count `n` more in each key's window (a new window if the last one ended),
    for each distinct (key, limit, n), in ONE upsert: {key: (the count before
    these n, when the window ends)}. The `n` hits of a key then count
    before + 1 ... before + n, as `n` calls of `hit` would have; a caller that
    turns some of them down gives them back with `refund_many`."""
    rows = sorted(deltas, key=lambda d: d[0])
    added = {key: n for key, _, n in rows}
    counted = {}
    for start in range(0, len(rows), _ROWS_PER_UPSERT):  # the drivers' limits on parameters
        chunk = rows[start:start + _ROWS_PER_UPSERT]
        params = {"now": now}
        for i, (key, limit, n) in enumerate(chunk):
            params[f"key_{i}"], params[f"n_{i}"], params[f"ends_{i}"] = key, n, now + limit.window
        for key, count, ends in execute_compiled(conn, _add_statement(conn.dialect.name, len(chunk)), params):
            counted[key] = (count - added[key], utc_aware(ends))
    return counted


_ROWS_PER_UPSERT = 200


@lru_cache(maxsize=256)
def _add_statement(dialect_name: str, rows: int):
    """`_hit_statement` for `rows` keys at once, each adding its own `n`: built once per size."""
    insert = (postgresql if dialect_name == "postgresql" else sqlite).insert(throttle_counters)
    statement = insert.values([
        {"key": bindparam(f"key_{i}"), "count": bindparam(f"n_{i}", type_=Integer),
         "window_ends_at": bindparam(f"ends_{i}", type_=_c.window_ends_at.type)}
        for i in range(rows)])
    expired = _c.window_ends_at <= bindparam("now", type_=_c.window_ends_at.type)
    return statement.on_conflict_do_update(
        index_elements=[_c.key],
        set_={
            "count": case((expired, statement.excluded["count"]), else_=_c.count + statement.excluded["count"]),
            "window_ends_at": case((expired, statement.excluded.window_ends_at), else_=_c.window_ends_at),
        },
    ).returning(_c.key, _c.count, _c.window_ends_at)


def refund_many(conn: Connection, refunds: dict[str, int]) -> None:
    """Take back `n` counts of each key (hits `add_many` counted that the caller turned
    down); a counter back to 0 goes, as if those hits had never been counted."""
    refunds = {key: n for key, n in refunds.items() if n > 0}
    if not refunds:
        return
    conn.execute(_REFUND, [{"key_": key, "n": n} for key, n in sorted(refunds.items())])
    conn.execute(_DROP_EMPTY, [{"key_": key} for key in sorted(refunds)])


_REFUND = throttle_counters.update().where(_c.key == bindparam("key_")).values(
    count=case((_c.count > bindparam("n"), _c.count - bindparam("n")), else_=0))
_DROP_EMPTY = delete(throttle_counters).where(_c.key == bindparam("key_"), _c.count <= 0)


def count(conn: Connection, key: str, now: datetime) -> int:
    row = conn.execute(select(_c.count, _c.window_ends_at).where(_c.key == key)).first()
    return row.count if row and utc_aware(row.window_ends_at) > now else 0


def refund(conn: Connection, key: str) -> None:
    """Take back one count (an attempt that turned out to be legitimate)."""
    conn.execute(throttle_counters.update().where(_c.key == key, _c.count > 0).values(count=_c.count - 1))


def clear(conn: Connection, key: str) -> None:
    conn.execute(delete(throttle_counters).where(_c.key == key))


def prune(conn: Connection, now: datetime) -> int:
    """Drop the counters whose window has ended."""
    return conn.execute(delete(throttle_counters).where(_c.window_ends_at <= now)).rowcount


def seconds_until(moment: datetime, now: datetime) -> int:
    return max(1, math.ceil((moment - now).total_seconds()))


