"""`umpnet`: run and operate the platform.

    umpnet up                      migrate, seed demo data once, run everything (make run)
    umpnet migrate                 database migrations and broker topology
    umpnet grant-role EMAIL ROLE   give a member a role (through the members service)
    umpnet seed --members N        synthetic members, in bulk
    umpnet rebuild SERVICE         rebuild a service's read models from its events
    umpnet status                  services, outbox lag, queue depths
    umpnet catalogue               regenerate docs/events.md
"""
from __future__ import annotations

import argparse
import os
import sys

from .platform import REPO, SERVICES, service

DEMO_ADMIN_EMAIL = "admin@umpnet.example"
DEMO_ADMIN_PASSWORD = "Demo-admin-2026"


def _config() -> dict:
    from umpnet_kernel.config import amqp_uri

    return {"AMQP_URI": amqp_uri()}


def _rpc(service_name: str, method: str, *args, timeout: float = 30):
    from nameko.standalone.rpc import ServiceRpcProxy

    from umpnet_kernel.nameko import register_remote_errors

    register_remote_errors()
    with ServiceRpcProxy(service_name, _config(), timeout=timeout) as proxy:
        return getattr(proxy, method)(*args)


def migrate(_args=None) -> None:
    from umpnet_kernel.database import url_for_service
    from umpnet_kernel.migrations import upgrade_to_head
    from umpnet_kernel.nameko import declare_subscriptions

    for info in SERVICES:
        upgrade_to_head(info.folder, url_for_service(info.name))
        print(f"  {info.name}: database at head")
    for info in SERVICES:
        declared = declare_subscriptions(info.load_class(), _config())
        if declared:
            print(f"  {info.name}: {len(declared)} subscription queue(s) declared")


def seed_demo() -> None:
    """Demo data, once per data directory: an admin, and a few members."""
    from umpnet_kernel.config import data_dir, secret_key
    from umpnet_kernel.database import Database, url_for_service
    from umpnet_kernel.events import Context

    marker = os.path.join(data_dir(), ".demo-seeded")
    if os.path.exists(marker):
        return
    from members.application import MembersApp

    db = Database(url_for_service("members"))
    app = MembersApp(db, secret_key())
    context = Context(actor_id="umpnet-seed")
    admin = app.register(
        {"email": DEMO_ADMIN_EMAIL, "password": DEMO_ADMIN_PASSWORD, "first_name": "Alex",
         "last_name": "Admin", "postcode": "75007", "themes": ["numerique", "europe"]},
        context,
    )
    app.verify_email(app.tokens.make(admin["id"], DEMO_ADMIN_EMAIL), context)
    app.grant_role(DEMO_ADMIN_EMAIL, "national_admin", context)
    demo = [("Camille", "Durand", "69003"), ("Léa", "Martin", "33000"), ("Hugo", "Bernard", "13001"),
            ("Chloé", "Petit", "59000"), ("Louis", "Robert", "35000"), ("Manon", "Richard", "67000")]
    for first, last, postcode in demo:
        email = f"{first.lower().replace('é', 'e').replace('è', 'e')}.{last.lower()}@umpnet.example"
        member = app.register({"email": email, "password": DEMO_ADMIN_PASSWORD, "first_name": first,
                               "last_name": last, "postcode": postcode, "themes": ["economie"]}, context)
        app.verify_email(app.tokens.make(member["id"], email), context)
    db.dispose()
    open(marker, "w").close()
    print(f"  demo data seeded ({len(demo) + 1} members)")


def up(args) -> None:
    from umpnet_kernel.config import data_dir, public_url

    os.environ["DATA_DIR"] = os.path.abspath(data_dir())  # one data dir for every process
    os.makedirs(os.environ["DATA_DIR"], exist_ok=True)
    print("UMPnet: migrating…")
    migrate()
    seed_demo()
    mail_dir = os.path.join(os.environ["DATA_DIR"], "mail")
    print(
        f"\n  Site:        {public_url()}\n"
        f"  Demo admin:  {DEMO_ADMIN_EMAIL} / {DEMO_ADMIN_PASSWORD}\n"
        f"  Emails:      {os.environ.get('SMTP_URL') or mail_dir + '/*.eml'}\n"
        "  Stop:        Ctrl-C\n",
        flush=True,
    )
    bin_dir = os.path.dirname(sys.executable)
    os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")  # the venv's python first
    honcho = os.path.join(bin_dir, "honcho")
    os.execv(honcho, [honcho, "-d", REPO, "-f", os.path.join(REPO, "deploy", "Procfile"), "start"])


def grant_role(args) -> None:
    profile = _rpc("members", "grant_role", args.email, args.role, {"actor_id": "umpnet-cli"})
    print(f"{args.email}: roles {', '.join(profile['roles'])}")


def rebuild(args) -> None:
    if args.offline:
        from umpnet_kernel.database import Database, url_for_service

        info = service(args.service)
        app = info.load_class().app.build(Database(url_for_service(info.name)), {"SECRET_KEY": "unused-offline"})
        import time

        started = time.perf_counter()
        count = app.rebuild_read_models()
        result = {"service": info.name, "events": count, "seconds": round(time.perf_counter() - started, 3)}
    else:
        result = _rpc(args.service, "rebuild_read_models", timeout=3600)
    print(f"{result['service']}: {result['events']} events replayed in {result['seconds']} s")


def status(args) -> None:
    from umpnet_kernel.nameko import subscription_queues, subscriptions_of
    from umpnet_kernel.topology import queue_depths

    healthy = True
    for info in SERVICES:
        try:
            state = _rpc(info.name, "status", timeout=3)
            outbox = state.get("outbox") or {}
            print(f"{info.name:10} up    outbox lag {outbox.get('lag', '?')} (published {outbox.get('published_position', '?')}/{outbox.get('head_position', '?')})")
        except Exception as exc:
            healthy = False
            print(f"{info.name:10} DOWN  ({type(exc).__name__})")
    names = []
    for info in SERVICES:
        for sub in subscriptions_of(info.load_class()):
            queues = subscription_queues(sub, {})
            names += [queues.main.name, queues.parked.name]
    for name, depth in queue_depths(_config()["AMQP_URI"], names).items():
        print(f"  queue {name}: {'missing' if depth is None else depth}")
    sys.exit(0 if healthy else 1)


def seed(args) -> None:
    from .seeding import seed_members

    count, seconds = seed_members(args.members, batch=args.batch)
    print(f"seeded {count} members in {seconds:.1f} s ({count / max(seconds, 1e-9):.0f}/s)")


def catalogue(args) -> None:
    from .catalogue import render

    path = os.path.join(REPO, "docs", "events.md")
    with open(path, "w") as f:
        f.write(render())
    print(f"wrote {path}")


def main(argv=None) -> None:
    from .serve import silence_framework_notices

    silence_framework_notices()
    parser = argparse.ArgumentParser(prog="umpnet", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="run the whole platform (make run)").set_defaults(func=up)
    commands.add_parser("migrate", help="migrate databases, declare queues").set_defaults(func=migrate)
    p = commands.add_parser("grant-role", help="give a member a role")
    p.add_argument("email")
    p.add_argument("role")
    p.set_defaults(func=grant_role)
    p = commands.add_parser("seed", help="synthetic data, in bulk")
    p.add_argument("--members", type=int, required=True)
    p.add_argument("--batch", type=int, default=1000)
    p.set_defaults(func=seed)
    p = commands.add_parser("rebuild", help="rebuild a service's read models from its events")
    p.add_argument("service", choices=[s.name for s in SERVICES])
    p.add_argument("--offline", action="store_true", help="work on the database directly (service stopped)")
    p.set_defaults(func=rebuild)
    commands.add_parser("status", help="services, outbox lag, queue depths").set_defaults(func=status)
    commands.add_parser("catalogue", help="regenerate docs/events.md").set_defaults(func=catalogue)
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # operators get one line, not a traceback
        from umpnet_kernel.errors import DomainError

        if isinstance(exc, DomainError):
            sys.exit(f"umpnet: {exc.message}")
        if type(exc).__name__ in ("RpcTimeout", "UnknownService"):
            sys.exit(f"umpnet: the {getattr(args, 'service', 'members')} service is not running (make run).")
        raise


if __name__ == "__main__":
    main()
