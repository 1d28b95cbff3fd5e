"""A campaign to N members, in the mailer alone: counting its segment at creation, then
queueing its emails (the "campaign sending" job), against ceilings of the same run.

    .venv/bin/python bench/campaign_sending.py [--members 20000] [--backend sqlite|postgresql]

A fresh, migrated mailer database; N verified, consenting members in the directory
(recorded from members-like events, not timed). Then:
  * count: `create_campaign` with a segment of themes and roles (the directory paged
    2,000 rows at a time, filtered in Python); ceiling: one `SELECT` of the same eligible
    rows and columns, fetched and not filtered;
  * queue: `advance_campaigns` (500 members a transaction: segment page, existing ids,
    one `EmailQueued` each and a `CampaignRecipientsQueued`); ceiling: the same number
    of `EmailQueued`, 500 a transaction, with no segment and no recipients event.
Prints seconds, rows or emails per second, the ratio to the ceiling and the load average.
"""
import warnings

warnings.filterwarnings("ignore", message=r"(?s).*Eventlet is deprecated")

import eventlet  # noqa: E402

eventlet.monkey_patch()

import argparse  # noqa: E402
import os  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from mailer.application import MailerApp  # noqa: E402
from mailer.campaigns import _ELIGIBLE  # noqa: E402
from mailer.domain.email import OutgoingEmail  # noqa: E402
from umpnet_kernel.database import Database  # noqa: E402
from umpnet_kernel.events import Context  # noqa: E402
from umpnet_kernel.manifest import service  # noqa: E402
from umpnet_kernel.migrations import upgrade_to_head  # noqa: E402
from umpnet_kernel.testing import temporary_postgres_url  # noqa: E402

from tests.unit.mailer.feeds import profile, registered, verified  # noqa: E402

ADMIN = Context(actor_id=str(uuid.uuid4()), actor_roles=("national_admin",))
THEMES = ("sante", "environnement", "education")


def fill(app, members: int) -> None:
    for start in range(0, members, 500):
        events = []
        for n in range(start, min(start + 500, members)):
            member_id = str(uuid.UUID(int=n + 1))
            themes = (THEMES[n % 3],)
            events += [registered(member_id, f"m{n}@example.org", "Léa", "75011", themes), verified(member_id),
                       profile(member_id, "Léa", "75011", themes, consent=True)]
        app.record_members_events(events)


def run(url: str, members: int) -> None:
    upgrade_to_head(service("mailer"), url)
    app = MailerApp(Database(url), "http://bench", "UMPnet <n@umpnet.invalid>", "bench-secret")
    fill(app, members)
    segment = {"themes": ["sante", "environnement"], "roles": ["member"]}

    started = time.perf_counter()
    with app.read() as conn:
        rows = len(conn.execute(_ELIGIBLE, {"after": "", "limit": members + 1}).all())
    count_ceiling = time.perf_counter() - started
    started = time.perf_counter()
    created = app.create_campaign({"subject": "Bench", "body_markdown": "Bonjour", "segment": segment}, ADMIN)
    count_time = time.perf_counter() - started
    chosen = created["recipient_count"]

    app.send_campaign(created["id"], ADMIN)
    started = time.perf_counter()
    queued = app.advance_campaigns()
    queue_time = time.perf_counter() - started

    started = time.perf_counter()
    for start in range(0, chosen, 500):
        def page(uow, start=start):
            for n in range(start, min(start + 500, chosen)):
                uow.add(OutgoingEmail.queue(str(uuid.uuid4()), "campaign", f"c{n}@example.org", "campaign",
                                            {"campaign_id": created["id"], "first_name": "Léa"}, str(uuid.uuid4())))
        app.execute(Context(), page)
    queue_ceiling = time.perf_counter() - started
    app.db.dispose()

    print(f"members {members}, eligible rows {rows}, in the segment {chosen}, queued {queued}")
    print(f"count : {count_time:.3f} s ({members / count_time:,.0f} directory rows/s); ceiling (one SELECT, "
          f"no filtering) {count_ceiling:.3f} s; ratio {count_ceiling / count_time:.2f}")
    print(f"queue : {queue_time:.3f} s ({queued / queue_time:,.0f} emails/s); ceiling (EmailQueued only) "
          f"{queue_ceiling:.3f} s ({chosen / queue_ceiling:,.0f}/s); ratio {queue_ceiling / queue_time:.2f}")
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}, "
          f"{os.cpu_count()} CPUs")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=20000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    args = parser.parse_args()
    if args.backend == "postgresql":
        with temporary_postgres_url() as url:
            run(url, args.members)
    else:
        with tempfile.TemporaryDirectory() as folder:
            run(f"sqlite:///{folder}/mailer.db", args.members)


if __name__ == "__main__":
    main()
