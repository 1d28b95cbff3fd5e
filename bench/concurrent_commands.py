"""Single-event commands from many concurrent callers, as a busy service receives them.

    .venv/bin/python bench/concurrent_commands.py [--backend sqlite|postgresql|both]
        [--commands 20000] [--callers 50]

Each command is one `Application.execute` that appends one event to its own
stream and updates the bench read model, committed durably (SQLite with
synchronous=FULL) before the caller gets its answer. `--callers` greenthreads
issue commands back to back, as a service's workers do under load. On SQLite
the kernel commits the commands that queued up during a commit together (group
commit): the figure to compare with the target (≥ 4,000 single-event
transactions/s) is commands per second, each one its own all-or-nothing unit.
"""
import warnings

warnings.filterwarnings("ignore", message=r"(?s).*Eventlet is deprecated")  # printed on import

import eventlet  # noqa: E402

eventlet.monkey_patch()

import time  # noqa: E402

from sqlalchemy import event as sa_event  # noqa: E402

from common import backends, base_arguments, bench_database, describe_environment, maybe_profiled, verdict  # noqa: E402
from domain import Members, member_events  # noqa: E402
from umpnet_kernel.application import Application  # noqa: E402
from umpnet_kernel.events import Context  # noqa: E402

TARGET = 4_000


def run(backend: str, args) -> None:
    planned = [p for p in member_events(args.commands * 3, seed=11) if p.expected_version == 0][: args.commands]
    with bench_database(backend, args.sqlite_dir) as db:
        print(f"[{backend}] concurrent single-event commands")
        print(describe_environment(db, args.sqlite_dir))
        app = Application(db, [Members()])
        commits = []
        sa_event.listen(db.engine, "commit", lambda conn: commits.append(1))
        queue = list(reversed(planned))

        def caller():
            while queue:
                p = queue.pop()
                app.execute(Context(), lambda uow, p=p: uow.append(p.stream_id, 0, [p.event]))

        pool = eventlet.GreenPool(args.callers)
        with maybe_profiled(args.profile):
            started, cpu = time.perf_counter(), time.process_time()
            for _ in range(args.callers):
                pool.spawn(caller)
            pool.waitall()
            elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        with app.read() as conn:
            stored = app.store.count(conn)
        assert stored == len(planned), (stored, len(planned))
        rate = len(planned) / elapsed
        print(
            f"{backend:10} {len(planned):,} commands from {args.callers} callers in {elapsed:6.2f} s (cpu {cpu:5.2f} s): "
            f"{rate:9,.0f} commands/s, {len(commits):,} commits ({len(planned) / max(len(commits), 1):.1f} commands per commit)"
            f" -> {verdict(rate, TARGET if backend == 'sqlite' else None)}"
        )


def main() -> None:
    parser = base_arguments(__doc__.splitlines()[0])
    parser.add_argument("--commands", type=int, default=20_000)
    parser.add_argument("--callers", type=int, default=50)
    args = parser.parse_args()
    for backend in backends(args.backend):
        run(backend, args)


if __name__ == "__main__":
    main()
