"""What signing a petition costs in the petitions service itself, without RPC nor gateway.

    .venv/bin/python bench/petition_signing.py [--signatures 3000] [--concurrency 32]

On a fresh, migrated SQLite database under a temporary directory: --signatures
signing requests (each its own address, from 200 source addresses) by
--concurrency greenthreads (SQLite's group commit shares each fsync), then their
confirmations the same way. Prints requests a second, CPU per request, and, in the
same run, the ceiling: the raw driver inserting one row per transaction with the
same synchronous setting, so the ratio shows what the use case adds. `sign_many` and
`confirm_many` (--batch requests a call, as the gateway gathers them) print their CPU
per signature too: that is the figure to compare between runs on a shared machine. The target of
issue 9 is 1,000 a second through the gateway; this is the part of it the service takes.
"""
import warnings

warnings.filterwarnings("ignore", message=r"(?s).*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()

import argparse  # noqa: E402
import os  # noqa: E402
import resource  # noqa: E402
import sqlite3  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

from eventlet.greenpool import GreenPool  # noqa: E402

from petitions.application import PetitionsApp  # noqa: E402
from petitions.commands import ConfirmSignature, LaunchPetition, Sign  # noqa: E402
from petitions.events import SignatureRequested  # noqa: E402
from petitions.fraud import SigningLimits  # noqa: E402
from umpnet_kernel.database import Database  # noqa: E402
from umpnet_kernel.events import Context  # noqa: E402
from umpnet_kernel.manifest import service  # noqa: E402
from umpnet_kernel.migrations import upgrade_to_head  # noqa: E402

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ADMIN = Context(actor_id="bench-admin", actor_roles=("national_admin",))


def cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def machine() -> str:
    return f"{os.cpu_count()} cores, load average {os.getloadavg()[0]:.2f}, Python {sys.version.split()[0]}"


def migrate(data_dir: str) -> str:
    url = f"sqlite:///{data_dir}/petitions.db"
    upgrade_to_head(service("petitions"), url)
    return url


def timed(label: str, count: int, work, concurrency: int, per: int = 1) -> float:
    """Calls a second; CPU per call, and per signature when a call carries `per`."""
    pool = GreenPool(concurrency)
    started, cpu_started = time.perf_counter(), cpu()
    for n in range(count):
        pool.spawn_n(work, n)
    pool.waitall()
    wall, used = time.perf_counter() - started, cpu() - cpu_started
    each = f", {used / (count * per) * 1000:.3f} ms a signature" if per > 1 else ""
    print(f"{label:<28} {count / wall:8.0f}/s   {used / count * 1000:6.2f} ms CPU each{each}   ({count} in {wall:.1f} s)")
    return count / wall


def raw_ceiling(data_dir: str, count: int) -> float:
    conn = sqlite3.connect(f"{data_dir}/ceiling.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, body TEXT)")
    started = time.perf_counter()
    for n in range(count):
        conn.execute("BEGIN")
        conn.execute("INSERT INTO t (body) VALUES (?)", ("x" * 400,))
        conn.execute("COMMIT")
    rate = count / (time.perf_counter() - started)
    print(f"{'ceiling: raw sqlite3':<28} {rate:8.0f}/s   one row, one transaction each, synchronous=FULL")
    return rate


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--signatures", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--batch", type=int, default=25, help="requests per sign_many call")
    args = parser.parse_args()
    print(f"machine: {machine()}")
    with tempfile.TemporaryDirectory() as data_dir:
        db = Database(migrate(data_dir))
        app = PetitionsApp(db, "bench-secret", SigningLimits().scaled(1000))
        recorded = []
        app.on_commit(recorded.extend)
        petition = app.launch(LaunchPetition(title="Banc d'essai", body="Signatures en rafale.", theme="economie",
                                             goal=1_000_000), ADMIN)

        def sign(n):
            app.sign(Sign(petition_id=petition["id"], email=f"signer{n}@example.org", first_name="Alice",
                          last_name="Martin", postcode="75011", contact_consent=n % 3 == 0),
                     Context(source=f"198.51.{n % 200}.{n % 250 + 1}"))

        signing = timed("sign (use case)", args.signatures, sign, args.concurrency)

        def sign_batch(n):
            app.sign_many([(Sign(petition_id=petition["id"], email=f"batched{n}-{k}@example.org", first_name="Alice",
                                 last_name="Martin", postcode="75011"), f"198.51.{k}.{n % 250 + 1}")
                           for k in range(args.batch)], Context())

        batches = max(1, args.signatures // args.batch)
        batched = timed(f"sign_many ({args.batch} a call)", batches, sign_batch, max(1, args.concurrency // 8),
                        per=args.batch)
        print(f"{'':<28} {batched * args.batch:8.0f}/s signatures")
        requested = [app.links.token("petition-signature", r.event.link_nonce)
                     for r in recorded if isinstance(r.event, SignatureRequested)]
        tokens, batched_tokens = requested[:args.signatures], requested[args.signatures:]

        def confirm(n):
            app.confirm(ConfirmSignature(tokens[n]), Context())

        confirming = timed("confirm (use case)", len(tokens), confirm, args.concurrency)

        def confirm_batch(n):
            app.confirm_many([ConfirmSignature(t) for t in batched_tokens[n * args.batch:(n + 1) * args.batch]],
                             Context())

        timed(f"confirm_many ({args.batch} a call)", len(batched_tokens) // args.batch, confirm_batch,
              max(1, args.concurrency // 8), per=args.batch)
        count = app.petition(petition["id"], Context())["signature_count"]
        expected = len(tokens) + len(batched_tokens) // args.batch * args.batch
        print(f"count after: {count} (expected {expected})")
        ceiling = raw_ceiling(data_dir, args.signatures)
        print(f"ratio to the ceiling: sign {signing / ceiling:.2f}, confirm {confirming / ceiling:.2f}")
        db.dispose()


if __name__ == "__main__":
    main()
