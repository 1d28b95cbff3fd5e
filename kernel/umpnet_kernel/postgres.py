"""PostgreSQL specifics, beside the core (the core calls them; SQLite needs none of them).

- `engine_for`: psycopg2, made cooperative under eventlet by psycogreen (psycopg2
  alone blocks the whole process while it waits for the server).
- `lock_appends`: the append lock. Concurrent transactions could commit
  positions out of order (11 visible before 10), and a relay reading past 10
  would skip it forever; appends and rebuilds therefore take a
  transaction-scoped advisory lock, so positions become visible in order.
- `insert_rows_as_json`: a rebuild's rows as one JSON document (`fast.bulk_insert`).
- `violates`: whether an IntegrityError is about a given unique key.
"""
from __future__ import annotations

import json
import logging
import weakref
from datetime import date, datetime

from sqlalchemy import Connection, Table, create_engine, text
from sqlalchemy.engine import Engine, URL
from sqlalchemy.sql import sqltypes

from .green import eventlet_is_patched

log = logging.getLogger(__name__)


def engine_for(url: URL, *, echo: bool = False) -> Engine:
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg2")
    if eventlet_is_patched():
        from psycogreen.eventlet import patch_psycopg

        patch_psycopg()
    return create_engine(url, echo=echo, pool_pre_ping=True, pool_size=10)


# -- the append lock ---------------------------------------------------------------
APPEND_LOCK_KEY = 7_283_001  # arbitrary, constant: one append lock per database
_LOCK_HELD_BY = "umpnet_append_lock_held_by"  # key in the DBAPI connection's `info`


def lock_appends(conn: Connection) -> None:
    """Hold the database's append lock until this transaction ends (PostgreSQL).

    SQLite needs nothing: a write transaction there already excludes all others.
    Taken once per transaction: an import appending to many streams would
    otherwise pay a round trip per stream for a lock it already holds. The
    innermost transaction is remembered, so after a rolled-back savepoint
    (which releases a lock taken inside it) the lock is taken again.
    """
    if conn.dialect.name != "postgresql":
        return
    held_by = conn.info.get(_LOCK_HELD_BY)
    current = conn.get_nested_transaction() or conn.get_transaction()
    if current is not None and held_by is not None and held_by() is current:
        return
    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": APPEND_LOCK_KEY})
    current = conn.get_nested_transaction() or conn.get_transaction()
    conn.info[_LOCK_HELD_BY] = weakref.ref(current)


# -- which key an IntegrityError is about ------------------------------------------
_UNIQUE_VIOLATION = "23505"


def violates(driver_error, table: Table, columns: tuple[str, ...]) -> bool:
    """Whether psycopg2's error is a unique violation of `table`'s key on `columns`.

    Told by the constraint's name (the error's text is in the server's language):
    the name the table's metadata gives the key, or PostgreSQL's default name.
    """
    if getattr(driver_error, "pgcode", None) != _UNIQUE_VIOLATION:
        return False
    diag = driver_error.diag
    return diag.table_name == table.name and diag.constraint_name in _key_names(table, columns)


def _key_names(table: Table, columns: tuple[str, ...]) -> set[str]:
    wanted = set(columns)
    names = set()
    for index in table.indexes:
        if index.unique and {c.name for c in index.columns} == wanted:
            names.add(index.name)
    for constraint in table.constraints:
        if {c.name for c in getattr(constraint, "columns", ())} == wanted:
            names.add(constraint.name)
    # What PostgreSQL names an unnamed primary key or unique constraint
    names.add(f"{table.name}_pkey")
    names.add(f"{table.name}_{'_'.join(columns)}_key"[:63])
    return names - {None}


# -- rebuilds: rows as one JSON document -------------------------------------------
def _json_plan(column, dialect) -> tuple[tuple[type, ...], bool] | None:
    """(the Python types sent as JSON to this column, whether datetimes must be naive).

    Only types whose JSON text PostgreSQL's input function reads as it reads
    psycopg2's literal, and only for columns SQLAlchemy does not convert itself.
    A zoned datetime in a timestamp-without-zone column would be converted by
    psycopg2's cast but not from JSON text: such values are left to SQLAlchemy.
    """
    column_type = column.type
    processor = column_type.dialect_impl(dialect).bind_processor(dialect)
    if isinstance(column_type, sqltypes.Boolean):
        # SQLAlchemy only checks that native booleans are booleans
        passes = processor is None or (processor(True) is True and processor(False) is False)
        return ((bool,), False) if passes else None
    if processor is not None:
        return None
    if isinstance(column_type, sqltypes.Integer):
        return (int,), False
    if isinstance(column_type, sqltypes.Float):
        return (float, int), False
    if isinstance(column_type, sqltypes.String):
        return (str,), False
    if isinstance(column_type, sqltypes.DateTime):
        return (datetime,), not column_type.timezone
    if isinstance(column_type, sqltypes.Date):
        return (date,), False
    return None


def _isoformat(value):
    if type(value) in (date, datetime):
        return value.isoformat()
    raise TypeError(f"not sent as JSON: {value!r}")


# allow_nan=False: NaN and infinities are not JSON, their rows go through SQLAlchemy.
_encode_recordset = json.JSONEncoder(
    separators=(",", ":"), ensure_ascii=False, allow_nan=False, default=_isoformat
).encode


def insert_rows_as_json(conn: Connection, table: Table, columns: list, rows: list[dict]) -> bool:
    """INSERT the rows from one JSON document (json_populate_recordset), if every
    value reads from JSON as it reads from psycopg2's literal; False if not
    (nothing was sent: the caller goes through SQLAlchemy)."""
    plans = [_json_plan(c, conn.dialect) for c in columns]
    if None in plans:
        return False
    checks = [(c.key, kinds, naive) for c, (kinds, naive) in zip(columns, plans)]
    for row in rows:
        for key, kinds, naive in checks:
            value = row[key]
            if value is not None and (type(value) not in kinds or (naive and value.tzinfo is not None)):
                return False
    names = [c.name for c in columns]
    if names != [c.key for c in columns]:
        rows = [{c.name: row[c.key] for c in columns} for row in rows]
    try:
        document = _encode_recordset(rows)
    except ValueError:  # NaN or infinity
        return False
    preparer = conn.dialect.identifier_preparer
    table_name, quoted = preparer.format_table(table), ", ".join(preparer.quote(n) for n in names)
    conn.exec_driver_sql(
        f"INSERT INTO {table_name} ({quoted}) "
        f"SELECT {quoted} FROM json_populate_recordset(NULL::{table_name}, %s)",
        (document,),
    )
    return True


# -- after an erasure: dead tuples ------------------------------------------------------
def vacuum_full(engine: Engine, keep: tuple[str, ...] = ("events",)) -> list[str]:
    """VACUUM FULL every table of the current schema but `keep` (`shredding.scrub`).

    A DELETE or an UPDATE leaves the old row as a dead tuple, bytes and all;
    a plain VACUUM only marks its space free, the bytes stay until something
    overwrites them. VACUUM FULL writes the live rows (and their indexes, and
    TOAST) into new files and drops the old ones. It locks each table
    (ACCESS EXCLUSIVE) while it copies it: read models are small next to the
    events, which an erasure never touches and are kept out. Returns the tables.

    A row deleted after a transaction of this database took its snapshot is
    "recently dead": VACUUM FULL copies it, bytes and all, since that
    transaction may still read it (an autovacuum's ANALYZE is one), and so is
    one deleted after a transaction of any database began, if it still runs
    (VACUUM FULL's own snapshot starts at the oldest). So it first waits (a few
    seconds at most) for the transactions older than the erasure: a long
    transaction anywhere on the server delays an erasure's scrub by that much.
    """
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        _wait_for_older_snapshots(conn)
        names = [name for (name,) in conn.execute(text(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() ORDER BY tablename"))
            if name not in keep]
        for name in names:
            conn.execute(text(f'VACUUM FULL "{name}"'))
    return names


# Older than the reference, either keeps the deleted rows: a snapshot of this database (it may
# still read them), or a transaction running anywhere on the server (another service's database
# too), which the current snapshot's xmin shows whoever runs it, roles aside: VACUUM FULL's own
# snapshot would start at it.
_OLDER_SNAPSHOTS = text(
    "SELECT pg_snapshot_xmin(pg_current_snapshot()) <= CAST(:reference AS xid8) OR EXISTS ("
    " SELECT 1 FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
    " AND backend_xmin IS NOT NULL AND age(backend_xmin) >= age(CAST(:reference_32 AS xid)))"
)


def _wait_for_older_snapshots(conn: Connection, timeout: float = 10.0) -> bool:
    """Wait until no transaction older than now runs on the server, nor a snapshot of this database."""
    import time

    sleep = time.sleep
    if eventlet_is_patched():
        from eventlet import sleep
    reference = conn.execute(text("SELECT pg_current_xact_id()::text")).scalar()  # committed at once
    ids = {"reference": reference, "reference_32": str(int(reference) % 2**32)}
    deadline = time.monotonic() + timeout
    while conn.execute(_OLDER_SNAPSHOTS, ids).scalar():
        if time.monotonic() > deadline:
            log.warning("an older transaction still runs: VACUUM FULL may keep rows it can see")
            return False
        sleep(0.1)
    return True
