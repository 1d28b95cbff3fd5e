"""Read-model rebuild speed, straight from the store (no broker).

    .venv/bin/python bench/rebuild.py [--backend sqlite|postgresql|both] [--events N] [--repeat R] [--profile]

Fills a fresh store with N member events (registered, profile updated, email
verified: 3 per member, appended in 100-event transactions, not timed), then
times `umpnet_kernel.projections.rebuild(conn, store, [Members()])` in one
write transaction, commit included. `Members` is a KeyedProjection with 13
columns, one a JSON list (bench/domain.py).              target >= 50,000 events/s
"""
import warnings

warnings.filterwarnings("ignore", message=r"(?s).*Eventlet is deprecated")  # printed on import

import eventlet  # noqa: E402

eventlet.monkey_patch()  # first, as in the services: green sockets, green psycopg2

import sys  # noqa: E402

from sqlalchemy import func, select  # noqa: E402

from umpnet_kernel.projections import rebuild  # noqa: E402
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
from domain import Members, member_events, members  # noqa: E402

TARGET = 50_000


def fill(db, store, count: int) -> None:
    batch = []
    for planned in member_events(count, seed=11):
        batch.append(planned)
        if len(batch) == 100:
            append_transaction(db, store, batch)
            batch = []
    if batch:
        append_transaction(db, store, batch)


def main() -> None:
    parser = base_arguments(__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=150_000, help="events in the store (3 per member)")
    parser.add_argument("--repeat", type=int, default=2, help="rebuilds of the same store, each timed")
    args = parser.parse_args()
    store = EventStore()
    for backend in backends(args.backend):
        with bench_database(backend, args.sqlite_dir) as db:
            print(f"[{backend}] rebuild\n{describe_environment(db, args.sqlite_dir)}")
            with Timer() as filling:
                fill(db, store, args.events)
            print(f"  filled the store with {args.events:,} events in {filling.seconds:.1f} s (not timed below)")
            for attempt in range(1, args.repeat + 1):
                with maybe_profiled(args.profile and attempt == args.repeat), Timer() as timer:
                    with db.write() as conn:
                        replayed = rebuild(conn, store, [Members()])
                with db.read() as conn:
                    rows = conn.execute(select(func.count()).select_from(members)).scalar_one()
                assert replayed == args.events and rows == (args.events + 2) // 3, (replayed, rows)
                rate = replayed / timer.seconds
                print(
                    f"{backend:<10} rebuild #{attempt}: {replayed:,} events -> {rows:,} rows in "
                    f"{timer.seconds:6.2f} s (cpu {timer.cpu_seconds:5.2f} s): {rate:>9,.0f} events/s  "
                    f"{verdict(rate, TARGET)}"
                )
                sys.stdout.flush()


if __name__ == "__main__":
    main()
