"""`umpnet`: run and operate the platform.

    umpnet up                      migrate, seed demo data once (not with DEMO=0), run everything
                                   under a supervisor that restarts what dies (make run)
    umpnet serve NAME              run one service (or the gateway): what `up` starts, one per process
    umpnet procfile                the processes `up` starts, as a Procfile
    umpnet migrate                 database migrations and broker topology
    umpnet new-migration SERVICE MESSAGE
                                   draft a service's next migration from its models (check it!)
    umpnet grant-role EMAIL ROLE   give a member a role (through the members service)
    umpnet seed --members N        synthetic members, in bulk
    umpnet rebuild SERVICE         rebuild a service's read models from its events
    umpnet status                  services, outbox lag, queue depths
    umpnet catalogue               regenerate docs/events.md and the README's service table
"""
from __future__ import annotations

import argparse
import os
import sys

from .platform import REPO, procfile_entries, service, service_names, services

MAIL_DIR = "mail"  # the .eml sink under $DATA_DIR when SMTP_URL is unset


def _config() -> dict:
    from umpnet_kernel.config import amqp_uri

    return {"AMQP_URI": amqp_uri()}


def _rpc(service_name: str, method: str, *args, timeout: float = 30):
    from nameko.standalone.rpc import ServiceRpcProxy

    from umpnet_kernel.nameko import register_remote_errors

    register_remote_errors()
    # Who asks travels in nameko's context data (the services read it as the call's context).
    with ServiceRpcProxy(service_name, _config(), context_data={"actor_id": "umpnet-cli"}, timeout=timeout) as proxy:
        return getattr(proxy, method)(*args)


def secure_data_dir() -> str:
    """`$DATA_DIR` 0700 and what the platform keeps in it 0600, also when an
    earlier install (or another umask) left them readable by other accounts."""
    from umpnet_kernel.config import data_dir, private_directory

    top = private_directory(data_dir())
    for entry in os.scandir(top):
        if entry.is_symlink() or entry.stat().st_uid != os.geteuid():
            continue
        if entry.is_file() and entry.stat().st_mode & 0o077:
            os.chmod(entry.path, 0o600)
        elif entry.is_dir() and entry.name == MAIL_DIR:
            private_directory(entry.path)
            for mail in os.scandir(entry.path):
                if mail.is_file(follow_symlinks=False) and mail.stat().st_mode & 0o077:
                    os.chmod(mail.path, 0o600)
    return top


def migrate(_args=None) -> None:
    from umpnet_kernel.database import url_for_service
    from umpnet_kernel.migrations import upgrade_to_head
    from umpnet_kernel.nameko import declare_subscriptions

    secure_data_dir()

    for info in services():
        upgrade_to_head(info, url_for_service(info.name))
        print(f"  {info.name}: database at head")
    for info in services():
        declared = declare_subscriptions(info.load_class(), _config())
        if declared:
            print(f"  {info.name}: {len(declared)} subscription queue(s) declared")


def up(args) -> None:
    from umpnet_kernel.config import data_dir, private_directory, public_url

    from .seeding import demo_wanted, seed_demo

    os.environ["DATA_DIR"] = os.path.abspath(data_dir())  # one data dir for every process
    print("UMPnet: migrating…")
    migrate()
    if os.environ.get("SMTP_URL"):
        emails = os.environ["SMTP_URL"].split("@")[-1]  # never print the SMTP credentials
    else:
        emails = private_directory(os.path.join(os.environ["DATA_DIR"], MAIL_DIR)) + "/*.eml"
    if demo_wanted():
        demo = seed_demo(os.environ["DATA_DIR"])
        if demo.new_password:
            admin = (f"{demo.admin_email} / {demo.new_password}\n"
                     f"               (shown this once; kept in {demo.password_file}, readable by you alone)")
        else:
            admin = f"{demo.admin_email} (password in {demo.password_file})"
        admin_line = f"  Demo admin:  {admin}\n"
    else:
        admin_line = "  Demo data:   off (DEMO=0)\n"
    print(
        f"\n  Site:        {public_url()}\n"
        f"{admin_line}"
        f"  Emails:      {emails}\n"
        "  Stop:        Ctrl-C\n",
        flush=True,
    )
    # Our own supervisor, not honcho: a process that dies is started again.
    # Without --procfile it starts `procfile_entries()`: every service found, and the gateway.
    python = sys.executable
    os.execv(python, [python, "-m", "umpnet_ops.supervisor", "--directory", REPO])


def serve(args) -> None:
    from .serve import serve as run

    run(args.name)


def procfile(_args) -> None:
    for name, command in procfile_entries():
        print(f"{name}: {command}")


def new_migration(args) -> None:
    from umpnet_kernel.migrations import new_revision

    print(f"wrote {new_revision(service(args.service), args.message)}")


def grant_role(args) -> None:
    profile = _rpc("members", "grant_role", args.email, args.role)
    print(f"{args.email}: roles {', '.join(profile['roles'])}")


def rebuild(args) -> None:
    if args.offline:
        from umpnet_kernel.database import Database, url_for_service

        info = service(args.service)
        from umpnet_kernel.config import secret_key

        # The real key: personal fields are sealed with keys it wraps (umpnet_kernel.shredding).
        app = info.load_class().app.build(Database(url_for_service(info.name)), {"SECRET_KEY": secret_key()})
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
    for info in services():
        try:
            state = _rpc(info.name, "status", timeout=3)
            outbox = state.get("outbox") or {}
            print(f"{info.name:10} up    outbox lag {outbox.get('lag', '?')} (published {outbox.get('published_position', '?')}/{outbox.get('head_position', '?')})")
        except Exception as exc:
            healthy = False
            print(f"{info.name:10} DOWN  ({type(exc).__name__})")
    names = []
    for info in services():
        for sub in subscriptions_of(info.load_class()):
            queues = subscription_queues(sub, {})
            names += [queues.main.name, queues.parked.name]
    for name, depth in queue_depths(_config()["AMQP_URI"], names).items():
        print(f"  queue {name}: {'missing' if depth is None else depth}")
    sys.exit(0 if healthy else 1)


def seed(args) -> None:
    from umpnet_kernel.config import data_dir, private_directory

    from .seeding import seed_members, synthetic_password

    password, path = synthetic_password(private_directory(data_dir()))
    count, seconds = seed_members(args.members, password, batch=args.batch)
    print(f"seeded {count} members in {seconds:.1f} s ({count / max(seconds, 1e-9):.0f}/s); "
          f"their password is in {os.path.abspath(path)}")


def catalogue(args) -> None:
    from .catalogue import write_all

    for path in write_all():
        print(f"wrote {path}")


def main(argv=None) -> None:
    from .serve import silence_framework_notices

    os.umask(0o077)  # databases, their -wal/-shm, keys, mail: this user's alone (and the children's)
    silence_framework_notices()
    parser = argparse.ArgumentParser(prog="umpnet", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("up", help="run the whole platform (make run)").set_defaults(func=up)
    p = commands.add_parser("serve", help="run one service, or the gateway")
    p.add_argument("name", choices=[name for name, _ in procfile_entries()])
    p.set_defaults(func=serve)
    commands.add_parser("procfile", help="the processes `up` starts").set_defaults(func=procfile)
    commands.add_parser("migrate", help="migrate databases, declare queues").set_defaults(func=migrate)
    p = commands.add_parser("new-migration", help="draft a service's next migration from its models")
    p.add_argument("service", choices=service_names())
    p.add_argument("message")
    p.set_defaults(func=new_migration)
    p = commands.add_parser("grant-role", help="give a member a role")
    p.add_argument("email")
    p.add_argument("role")
    p.set_defaults(func=grant_role)
    p = commands.add_parser("seed", help="synthetic data, in bulk")
    p.add_argument("--members", type=int, required=True)
    p.add_argument("--batch", type=int, default=50000, help="members per transaction")
    p.set_defaults(func=seed)
    p = commands.add_parser("rebuild", help="rebuild a service's read models from its events")
    p.add_argument("service", choices=service_names())
    p.add_argument("--offline", action="store_true", help="work on the database directly (service stopped)")
    p.set_defaults(func=rebuild)
    commands.add_parser("status", help="services, outbox lag, queue depths").set_defaults(func=status)
    commands.add_parser("catalogue", help="regenerate docs/events.md and the README's service table").set_defaults(func=catalogue)
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # operators get one line, not a traceback
        from umpnet_gateway.errors import error_answer  # the one mapping of errors, as the API and site use it

        answer = error_answer(exc)
        if answer.status == 503:
            sys.exit(f"umpnet: the {getattr(args, 'service', 'members')} service is not running (make run).")
        if answer.unexpected:
            raise
        sys.exit(f"umpnet: {answer.message}")


if __name__ == "__main__":
    main()
