"""`umpnet seed --members N`: synthetic members written straight into the members store.

Fast because it skips what is slow per member and pointless for fake data:
one argon2 hash shared by all (password "Synthetic-2026"), no verification
email (they are created verified), and many members per transaction. The
events are ordinary ones: read models, relay and subscribers treat them as
any other. Every address ends in `.invalid`, so no mail can ever reach anyone.
"""
from __future__ import annotations

import os
import random
import secrets
import time
import unicodedata
import uuid
from dataclasses import dataclass

from umpnet_geo import all_postcodes

FIRST_NAMES = ("Camille", "Léa", "Hugo", "Chloé", "Louis", "Manon", "Lucas", "Emma", "Jules", "Inès",
               "Gabriel", "Jade", "Arthur", "Louise", "Raphaël", "Alice", "Paul", "Lina", "Nathan", "Rose")
LAST_NAMES = ("Martin", "Bernard", "Thomas", "Petit", "Robert", "Richard", "Durand", "Dubois", "Moreau",
              "Laurent", "Simon", "Michel", "Lefebvre", "Leroy", "Roux", "David", "Bertrand", "Morel")
SYNTHETIC_PASSWORD = "Synthetic-2026"


def seed_members(count: int, batch: int = 1000, seed: int | None = None) -> tuple[int, float]:
    from members.application import MembersApp, residence_for
    from members.domain.catalogue import THEMES
    from members.domain.member import Member
    from members.events import EmailVerified
    from members.security import hash_password
    from umpnet_kernel.config import secret_key
    from umpnet_kernel.database import Database, url_for_service
    from umpnet_kernel.events import Context

    rng = random.Random(seed)
    postcodes = all_postcodes()
    themes = [t.slug for t in THEMES]
    password_hash = hash_password(SYNTHETIC_PASSWORD)
    db = Database(url_for_service("members"))
    app = MembersApp(db, secret_key())
    context = Context(actor_id="umpnet-seed")
    started = time.perf_counter()
    done = 0
    try:
        while done < count:
            size = min(batch, count - done)

            def command(uow):
                for _ in range(size):
                    member_id = str(uuid.uuid4())
                    member = Member.register(
                        member_id,
                        f"seed-{member_id[:13]}@members.invalid",
                        password_hash,
                        rng.choice(FIRST_NAMES),
                        rng.choice(LAST_NAMES),
                        residence_for(rng.choice(postcodes)),
                        themes=rng.sample(themes, rng.randint(0, 3)),
                    )
                    base, events = member.collect_pending()
                    uow.append(member.stream_id, base, [*events, EmailVerified(member_id=member_id)])

            app.execute(context, command)
            done += size
    finally:
        db.dispose()
    return done, time.perf_counter() - started


# -- demo data (`umpnet up`, make run) -------------------------------------------------
DEMO_ADMIN_EMAIL = "admin@umpnet.example"
DEMO_PASSWORD_FILE = "demo-admin-password"
DEMO_MEMBERS = (("Camille", "Durand", "69003"), ("Léa", "Martin", "33000"), ("Hugo", "Bernard", "13001"),
                ("Chloé", "Petit", "59000"), ("Louis", "Robert", "35000"), ("Manon", "Richard", "67000"))
_DEMO_IDS = uuid.UUID("8c4f6d2e-1b7a-4f0e-9a53-3d1e2f6b7c80")  # namespace of the demo accounts' ids


@dataclass(frozen=True)
class DemoAccounts:
    admin_email: str
    password_file: str
    new_password: str | None  # only on the run that set it: printed once, then only kept in the file


def demo_wanted(environ=os.environ) -> bool:
    """`DEMO=0` (or off/no/false) turns demo seeding off: for any installation that is not a demo."""
    return environ.get("DEMO", "1").strip().lower() not in ("0", "off", "no", "false")


def seed_demo(data_dir: str) -> DemoAccounts:
    """A national admin and six members, once per data directory.

    The admin's password is random, made on the first run and kept 0600 in
    `$DATA_DIR/demo-admin-password`: a password written in the source would be
    a known national admin on every install made with `make run`. The demo
    members get a random password that is never kept (they are there to be
    seen, not used). Without the file (a first run, the file deleted, or an
    install seeded when the password was in the source), every demo account
    that exists gets a new password. Only what is missing is added, so a run
    after a crash halfway completes the seeding.
    """
    from sqlalchemy import select

    from members.application import residence_for
    from members.domain.catalogue import NATIONAL_ADMIN
    from members.domain.member import Member
    from members.events import EmailVerified, PasswordSet
    from members.projections import members
    from members.security import hash_password
    from umpnet_kernel.config import secret_key
    from umpnet_kernel.database import Database, url_for_service
    from umpnet_kernel.events import Context

    from .platform import service

    path = os.path.join(data_dir, DEMO_PASSWORD_FILE)
    password, new_password = _read_secret(path), None
    if password is None:
        new_password = password = secrets.token_urlsafe(18)
    accounts = [(DEMO_ADMIN_EMAIL, "Alex", "Admin", "75007", ("numerique", "europe"), password)]
    members_password = secrets.token_urlsafe(18)  # never written anywhere
    for first, last, postcode in DEMO_MEMBERS:
        email = f"{_ascii(first)}.{_ascii(last)}@umpnet.example"
        accounts.append((email, first, last, postcode, ("economie",), members_password))

    db = Database(url_for_service("members"))
    app = service("members").load_class().app.build(db, {"SECRET_KEY": secret_key()})
    context = Context(actor_id="umpnet-seed")
    try:
        with db.read() as conn:
            emails = [a[0] for a in accounts]
            found = dict(conn.execute(select(members.c.email, members.c.member_id).where(members.c.email.in_(emails))).all())
        missing = [a for a in accounts if a[0] not in found]
        stale = [a for a in accounts if a[0] in found] if new_password else []
        hashes = {pw: hash_password(pw) for pw in {a[-1] for a in missing + stale}}  # slow: outside the transaction

        def register(uow):
            for email, first, last, postcode, themes, pw in missing:
                member_id = str(uuid.uuid5(_DEMO_IDS, email))
                found[email] = member_id
                member = Member.register(member_id, email, hashes[pw], first, last, residence_for(postcode),
                                         themes=themes)
                base, events = member.collect_pending()
                uow.append(member.stream_id, base, [*events, EmailVerified(member_id=member_id)])
            for email, *_, pw in stale:
                stream_id = Member.stream_id_for(found[email])
                version = app.store.stream_version(uow.conn, stream_id)
                uow.append(stream_id, version, [PasswordSet(member_id=found[email], password_hash=hashes[pw])])

        if missing or stale:
            app.execute(context, register)
            app.execute(context, lambda uow: uow.get(Member, found[DEMO_ADMIN_EMAIL]).grant_role(NATIONAL_ADMIN))
    finally:
        db.dispose()
    if new_password is not None:
        _write_secret(path, new_password)
    elif any(a[0] == DEMO_ADMIN_EMAIL for a in missing):
        new_password = password  # the file was there, not the admin (a crash before): say it again
    legacy_marker = os.path.join(data_dir, ".demo-seeded")  # seeded with the password once in the source
    if os.path.exists(legacy_marker):
        os.remove(legacy_marker)
    return DemoAccounts(DEMO_ADMIN_EMAIL, path, new_password)


def _ascii(name: str) -> str:
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().lower()


def _read_secret(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip() or None
    except FileNotFoundError:
        return None


def _write_secret(path: str, value: str) -> None:
    """Atomically, 0600 from the start (never a moment readable by others)."""
    tmp = f"{path}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(value + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
