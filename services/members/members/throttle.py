"""Rate limits: counters in fixed windows, counted atomically in the database.

Operational state, not domain events: rows expire with their window. Keys are
HMACs keyed with the installation's secret (`umpnet_kernel.links.keyed_hash`)
of what is counted (an address, a client address, both), so the table says
nothing about who tried to log in from where to whoever reads the file.

Counting is one upsert that returns the new count, in the caller's
transaction: thirty parallel attempts get thirty distinct counts, where a
read-then-write let thirteen through before the lock. Several keys counted
at once (an address and a client address) are one statement (`hit_many`).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence
from datetime import datetime, timedelta

from sqlalchemy import Column, Connection, DateTime, Integer, MetaData, String, Table, case, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from .limits import CONTACT_REQUESTS_PER_DAY, INVITATION_EMAILS_PER_ADDRESS, INVITATION_PERIOD, INVITATIONS_PER_DAY
from .projections import utc_aware

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


@dataclass(frozen=True)
class RateLimits:
    """Every limit of the members service; `scaled(k)` multiplies the counts
    (RATE_LIMIT_SCALE, for a party whose members sign up behind one address)."""

    # Logins. A stranger cannot lock the owner out: after 5 wrong passwords
    # only the source that typed them is refused for that account; a source
    # trying many accounts is refused everywhere; beyond 20 failures from
    # everywhere, the account is slowed to one attempt every 2 s, never locked.
    login_per_account_and_source: Limit = Limit(5, timedelta(minutes=15))
    login_failures_per_source: Limit = Limit(20, timedelta(minutes=15))
    login_failures_per_account: Limit = Limit(20, timedelta(minutes=15))
    login_pace_when_attacked: Limit = Limit(1, timedelta(seconds=2))
    # Everything that sends mail, per address and per source.
    mail_per_address: Limit = Limit(3, timedelta(hours=1))
    mail_per_source: Limit = Limit(10, timedelta(hours=1))
    duplicate_sign_up_notice_per_address: Limit = Limit(1, timedelta(hours=1))
    sign_ups_per_source: Limit = Limit(300, timedelta(hours=1))
    # Contact requests, per requesting member (only the requests that are sent count).
    contact_requests_per_member: Limit = Limit(CONTACT_REQUESTS_PER_DAY, timedelta(days=1))
    # Invitations, per inviting member (new ones only), and the emails one address gets from them all.
    invitations_per_member: Limit = Limit(INVITATIONS_PER_DAY, timedelta(days=1))
    invitation_emails_per_address: Limit = Limit(INVITATION_EMAILS_PER_ADDRESS, INVITATION_PERIOD)

    def scaled(self, factor: float) -> "RateLimits":
        if factor == 1:
            return self
        return RateLimits(
            **{
                name: Limit(max(1, int(limit.count * factor)), limit.window)
                for name, limit in self.__dict__.items()
            }
        )


def _upsert(conn: Connection):
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(throttle_counters)


def hit(conn: Connection, key: str, limit: Limit, now: datetime) -> tuple[int, datetime]:
    """Count one more in `key`'s window (a new window if the last one ended):
    (the count now, when the window ends)."""
    ends = now + limit.window
    expired = _c.window_ends_at <= now
    statement = _upsert(conn).values(key=key, count=1, window_ends_at=ends)
    statement = statement.on_conflict_do_update(
        index_elements=[_c.key],
        set_={
            "count": case((expired, 1), else_=_c.count + 1),
            "window_ends_at": case((expired, ends), else_=_c.window_ends_at),
        },
    ).returning(_c.count, _c.window_ends_at)
    count, window_ends_at = conn.execute(statement).one()
    return count, utc_aware(window_ends_at)


def hit_many(conn: Connection, hits: Sequence[tuple[str, Limit]], now: datetime) -> list[tuple[int, datetime]]:
    """`hit` for each (key, limit), in one multi-row upsert: (count, window end) of each, in order.

    The rows go in key order, so two callers counting the same keys take
    PostgreSQL's row locks in the same order and cannot deadlock. A key given
    twice is counted by `hit` one at a time (one upsert cannot touch a row twice)."""
    keys = [key for key, _ in hits]
    if len(hits) < 2 or len(set(keys)) < len(keys):
        return [hit(conn, key, limit, now) for key, limit in hits]
    rows = sorted(({"key": key, "count": 1, "window_ends_at": now + limit.window} for key, limit in hits),
                  key=lambda row: row["key"])
    expired = _c.window_ends_at <= now
    statement = _upsert(conn).values(rows)
    statement = statement.on_conflict_do_update(
        index_elements=[_c.key],
        set_={
            "count": case((expired, 1), else_=_c.count + 1),
            "window_ends_at": case((expired, statement.excluded.window_ends_at), else_=_c.window_ends_at),
        },
    ).returning(_c.key, _c.count, _c.window_ends_at)
    counted = {row.key: (row.count, utc_aware(row.window_ends_at)) for row in conn.execute(statement)}
    return [counted[key] for key in keys]


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


