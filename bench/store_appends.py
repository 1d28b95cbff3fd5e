"""Event-store append throughput: batched transactions and single-event transactions.

    .venv/bin/python bench/store_appends.py [--backend sqlite|postgresql|both] [--events N]
        [--transactions N] [--batch-size 100]
        [--scenario all|kernel|batched|per-stream|one-append|single|raw] [--profile]

Scenarios (each on a fresh database; events are built before the clock starts,
the clock covers the store's append calls plus the write transaction and its commit):

  batched     --batch-size events per transaction, as members' sign-ups would
              arrive in an import: ~34 member streams (3 events each) per
              100-event transaction, all in one `append_many`, as a unit of work
              flushes its aggregates: one INSERT.        target >= 20,000 events/s
  per-stream  the same transactions with one `append` per member stream, i.e.
              34 INSERTs each: how flushes used to append.            (no target)
  one-append  --batch-size events per transaction in a single `append` to one
              stream: the store's per-event cost alone.                 (no target)
  single      one event per transaction (`Database.write()`, BEGIN IMMEDIATE,
              commit; SQLite synchronous=FULL by default).  target >= 4,000 tx/s on SQLite

and, to show what the machine itself allows, the same transactions with no
kernel and no SQLAlchemy: the driver's own connection (same PRAGMAs), the
same INSERT statements, rows encoded before the clock starts:

  raw-batched, raw-single
"""
import warnings

warnings.filterwarnings("ignore", message=r"(?s).*Eventlet is deprecated")  # printed on import

import eventlet  # noqa: E402

eventlet.monkey_patch()  # first, as in the services: green sockets, green psycopg2

import sys  # noqa: E402
from datetime import datetime, timezone  # noqa: E402
from functools import partial  # noqa: E402
from itertools import chain  # noqa: E402

from umpnet_kernel import fast as kernel_fast, postgres as kernel_postgres, store as kernel_store  # noqa: E402
from umpnet_kernel.store import EventStore  # noqa: E402

from common import (  # noqa: E402
    Timer,
    append_transaction,
    backends,
    base_arguments,
    bench_database,
    describe_environment,
    maybe_profiled,
    verdict,
)
from domain import PlannedEvent, member_events  # noqa: E402

TARGETS = {
    ("batched", "sqlite"): 20_000,
    ("batched", "postgresql"): 20_000,
    ("single", "sqlite"): 4_000,
}
WARM_UP_TRANSACTIONS = 3
KERNEL_SCENARIOS = ["batched", "per-stream", "one-append", "single"]
RAW_SCENARIOS = ["raw-batched", "raw-single"]


def chunks(items, size):
    return [items[i : i + size] for i in range(0, len(items), size)]


def plan(scenario: str, args) -> list[list[PlannedEvent]]:
    """The transactions to run, warm-up ones first."""
    if scenario.endswith("single"):
        total = args.transactions + WARM_UP_TRANSACTIONS
        return [[p] for p in member_events(total, seed=7)]
    total = args.events + WARM_UP_TRANSACTIONS * args.batch_size
    planned = list(member_events(total, seed=7))
    transactions = chunks(planned, args.batch_size)
    if scenario == "one-append":
        transactions = [
            [PlannedEvent(f"import-{n}", i, p.event, p.meta) for i, p in enumerate(batch)]
            for n, batch in enumerate(transactions)
        ]
    return transactions


def run_kernel(transactions, db, per_stream: bool = False) -> None:
    store = EventStore()
    for batch in transactions:
        append_transaction(db, store, batch, per_stream)


def prepare_raw(transactions, db) -> list[list[tuple[str, tuple]]]:
    """Each transaction as the (SQL, parameters) `append_many` would send, encoded now:
    every stream's rows in one INSERT (per `_ROWS_PER_INSERT` rows)."""
    dialect = db.engine.dialect
    stored_now = kernel_fast.stored_value(dialect, kernel_store.events_table.c.recorded_at, datetime.now(timezone.utc))
    prepared = []
    for batch in transactions:
        rows = [
            (p.stream_id, p.expected_version + 1, p.meta.event_id, p.event.event_name, p.event.event_version,
             kernel_fast.encode_event(p.event), kernel_fast.encode_meta(p.meta), stored_now)
            for p in batch
        ]
        prepared.append([
            (kernel_fast._insert_sql(dialect, kernel_store.events_table, kernel_store._INSERT_COLUMNS,
                                    kernel_store._RETURNING, len(chunk)), tuple(chain.from_iterable(chunk)))
            for chunk in chunks(rows, kernel_store._ROWS_PER_INSERT)
        ])
    return prepared


def run_raw(prepared, db) -> None:
    """The prepared statements on the driver's connection: what SQLite / PostgreSQL cost alone."""
    connection = db.engine.raw_connection()  # from the pool: Database's PRAGMAs are set
    try:
        cursor = connection.cursor()
        for statements in prepared:
            if db.is_sqlite:
                cursor.execute("BEGIN IMMEDIATE")
            else:  # the append lock, once per transaction, as the kernel takes it
                cursor.execute("SELECT pg_advisory_xact_lock(%s)", (kernel_postgres.APPEND_LOCK_KEY,))
            for sql, parameters in statements:
                cursor.execute(sql, parameters)
                cursor.fetchall()
            if db.is_sqlite:
                cursor.execute("COMMIT")
            else:
                connection.commit()
        cursor.close()
    finally:
        connection.close()


def run(scenario: str, backend: str, args) -> None:
    transactions = plan(scenario, args)
    warm_up, timed = transactions[:WARM_UP_TRANSACTIONS], transactions[WARM_UP_TRANSACTIONS:]
    raw = scenario.startswith("raw-")
    with bench_database(backend, args.sqlite_dir) as db:
        if raw:
            warm_up, timed = prepare_raw(warm_up, db), prepare_raw(timed, db)
            go = run_raw
        else:
            go = partial(run_kernel, per_stream=scenario == "per-stream")
        go(warm_up, db)  # compiles statements, opens the pooled connection
        with maybe_profiled(args.profile), Timer() as timer:
            go(timed, db)
        with db.read() as conn:
            stored = EventStore().count(conn)
    events = sum(len(b) for b in transactions[WARM_UP_TRANSACTIONS:])
    assert stored == sum(len(b) for b in transactions), "not every event was stored"
    tx_rate, event_rate = len(timed) / timer.seconds, events / timer.seconds
    rate, unit = (tx_rate, "tx/s") if scenario.endswith("single") else (event_rate, "events/s")
    print(
        f"{backend:<10} {scenario:<11} {events:>8,} events in {len(timed):>6,} tx, {timer.seconds:6.2f} s "
        f"(cpu {timer.cpu_seconds:5.2f} s): {event_rate:>8,.0f} events/s, {tx_rate:>7,.0f} tx/s, "
        f"{timer.seconds / len(timed) * 1e6:7.0f} us/tx -> {rate:,.0f} {unit} "
        + (verdict(rate, TARGETS.get((scenario, backend))) if not raw else "(no kernel: the machine's ceiling)")
    )
    sys.stdout.flush()


def main() -> None:
    parser = base_arguments(__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000, help="events in the batched scenarios")
    parser.add_argument("--transactions", type=int, default=10_000, help="transactions in the single scenarios")
    parser.add_argument("--batch-size", type=int, default=100, help="events per batched transaction")
    parser.add_argument(
        "--scenario", default="all",
        choices=["all", "kernel", "raw", *KERNEL_SCENARIOS, *RAW_SCENARIOS],
    )
    args = parser.parse_args()
    scenarios = {
        "all": KERNEL_SCENARIOS + RAW_SCENARIOS, "kernel": KERNEL_SCENARIOS, "raw": RAW_SCENARIOS,
    }.get(args.scenario, [args.scenario])
    for backend in backends(args.backend):
        with bench_database(backend, args.sqlite_dir) as db:
            print(f"[{backend}] store appends\n{describe_environment(db, args.sqlite_dir)}")
        for scenario in scenarios:
            run(scenario, backend, args)


if __name__ == "__main__":
    main()
