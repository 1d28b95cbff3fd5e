"""Commands that answer their first outcome when they arrive again.

A request is redelivered when the service died between its commit and its
reply (RabbitMQ gives the unacknowledged message to the next consumer). Run
again, a sign-up would find its own account and take the "already
registered" path. So a use case that creates something runs through
`Application.execute_once`: the outcome is recorded under the request's
idempotency key (the RPC request's correlation id, `Context.idempotency_key`)
in the same transaction as its effect, and a redelivery answers it back
without running anything. A service that uses it adds `outcomes_metadata`
to its migrations.
"""
from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone
from typing import Callable, TypeVar

from sqlalchemy import Column, Connection, DateTime, MetaData, String, Table, Text, bindparam, delete, insert, select

from . import jsontext
from .store import insert_once

T = TypeVar("T")

outcomes_metadata = MetaData()
command_outcomes = Table(
    "command_outcomes",
    outcomes_metadata,
    Column("key", String(64), primary_key=True),
    Column("outcome", Text, nullable=False),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
)
_SELECT = select(command_outcomes.c.outcome).where(command_outcomes.c.key == bindparam("key"))
_INSERT = insert(command_outcomes)

# Redeliveries come within seconds (requests expire with their caller's
# deadline); a day is far beyond any of them.
KEEP_OUTCOMES = timedelta(days=1)


def outcome_key(use_case: str, idempotency_key: str) -> str:
    return hashlib.sha256(f"{use_case}:{idempotency_key}".encode()).hexdigest()


def remembered(use_case: str, idempotency_key: str, command: Callable) -> Callable:
    """`command`, answering its recorded outcome if this key already ran it.
    The outcome must be JSON (what an RPC answers anyway)."""
    key = outcome_key(use_case, idempotency_key)

    def run(uow):
        recorded = uow.conn.execute(_SELECT, {"key": key}).scalar()
        if recorded is not None:
            return jsontext.decode(recorded)
        outcome = command(uow)
        # The same request running twice at once: the second to get here
        # loses the race (KeyTaken), and answers the first's outcome when run again.
        values = {"key": key, "outcome": jsontext.encode(outcome), "recorded_at": datetime.now(timezone.utc)}
        insert_once(uow.conn, _INSERT, values, command_outcomes, ("key",))
        return outcome

    return run


def prune_outcomes(conn: Connection, now: datetime | None = None) -> int:
    cutoff = (now or datetime.now(timezone.utc)) - KEEP_OUTCOMES
    return conn.execute(delete(command_outcomes).where(command_outcomes.c.recorded_at < cutoff)).rowcount
