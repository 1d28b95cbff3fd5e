"""Members written straight into the members store: `umpnet seed`, and the demo of `umpnet up`.

`umpnet seed --members N` is fast because it skips what is slow per member and
pointless for fake data: one argon2 hash shared by all, no verification email
(they are created verified), and many members per transaction. Their shared
password is random, kept 0600 in `$DATA_DIR/synthetic-members-password` (a
password written here would open thousands of verified accounts wherever
someone seeded). The events are ordinary ones: read models, relay and
subscribers treat them as any other. Every address ends in `.invalid`, so no
mail can ever reach anyone.
"""
from __future__ import annotations

import os
import random
import re
import secrets
import time
import unicodedata
import uuid
from dataclasses import dataclass

FIRST_NAMES = ("Camille", "Léa", "Hugo", "Chloé", "Louis", "Manon", "Lucas", "Emma", "Jules", "Inès",
               "Gabriel", "Jade", "Arthur", "Louise", "Raphaël", "Alice", "Paul", "Lina", "Nathan", "Rose")
LAST_NAMES = ("Martin", "Bernard", "Thomas", "Petit", "Robert", "Richard", "Durand", "Dubois", "Moreau",
              "Laurent", "Simon", "Michel", "Lefebvre", "Leroy", "Roux", "David", "Bertrand", "Morel")
SYNTHETIC_PASSWORD_FILE = "synthetic-members-password"


def synthetic_password(data_dir: str) -> tuple[str, str]:
    """(the synthetic members' password, the file that keeps it): made on first use."""
    path = os.path.join(data_dir, SYNTHETIC_PASSWORD_FILE)
    password = _read_secret(path)
    if password is None:
        password = secrets.token_urlsafe(18)
        _write_secret(path, password)
    return password, path


SQLITE_CACHE_KIB = 1 << 20  # 1 GiB: the indexes of random ids of a million members stay in memory
MAP_SHARE = 0.2  # a fifth of the synthetic members chose to appear on the map
# Handlers that only delete what earlier events of the member made: a new member
# has none of it (a seeded member was never sent a link), so they are not run.
NOTHING_TO_UNDO = {"pending_links": {"members.EmailVerified"}}


def seed_members(count: int, password: str, batch: int = 50000, seed: int | None = None,
                 map_share: float = MAP_SHARE) -> tuple[int, float]:
    """`count` verified synthetic members, spread over the communes as people are
    (`commune_weights`), a fifth of them on the map; (how many, seconds).

    Each member's events are the ordinary ones (MemberRegistered, PasswordSet,
    ProfileUpdated for those on the map, EmailVerified), recorded by the Member
    aggregate. A second process (`seeding_rows`) makes them and their rows, sealed,
    batch after batch, while this one writes: each batch of `batch` members is one
    transaction, its events and the members' new keys one multi-row INSERT per
    500 rows (`umpnet_kernel.bulk.append_prepared`, tested equal to the store's
    `append_many`), projected in that transaction. Batches are large (50,000
    members, ~10 s of the write lock a transaction, at most ~2 GB of memory with
    SQLite's 1 GiB cache): each commit writes every index page its random ids
    touched, nearly the whole of each index once the store is big, so fewer
    commits write far less (5,000 per transaction took twice the time at a
    million). The one shortcut: the members
    are new, so the rows of the keyed read models (one row per member) are made
    as a rebuild makes them, in memory, and written in bulk, instead of a read and
    a write per event; other projections apply each event as a command would. A
    rebuild gives the same rows (tested).
    """
    import json
    import pickle
    import subprocess
    import sys

    from members.application import MembersApp
    from members.security import hash_password
    from umpnet_kernel.bulk import append_prepared
    from umpnet_kernel.config import secret_key
    from umpnet_kernel.database import Database, url_for_service
    from umpnet_kernel.fast import bulk_insert, cyclic_gc_paused
    from umpnet_kernel.projections import KeyedProjection

    from .seeding_rows import JOB_VARIABLE, read_frame

    if batch < 1:
        raise ValueError("batch: at least one member per transaction")
    started = time.perf_counter()
    job = {"count": count, "batch": batch, "seed": seed, "map_share": map_share,
           "password_hash": hash_password(password), "secret_key": secret_key()}
    # the job in its environment (readable by this user alone, as the services' SECRET_KEY), not on
    # stdin: a green pipe's write to a process that already exited waits forever under eventlet
    maker = subprocess.Popen([sys.executable, "-m", "umpnet_ops.seeding_rows"], stdin=subprocess.DEVNULL,
                             stdout=subprocess.PIPE, env={**os.environ, JOB_VARIABLE: json.dumps(job)})
    db = Database(url_for_service("members"))
    app = MembersApp(db, job["secret_key"])
    keyed = [p for p in app.projections if isinstance(p, KeyedProjection)]
    others = []
    for projection in app.projections:
        if not isinstance(projection, KeyedProjection):
            handled = {t for t in projection.handled_types()
                       if t.event_name not in NOTHING_TO_UNDO.get(projection.name, ())}
            others.append((projection, handled))
    done = 0
    try:
        with cyclic_gc_paused():
            while done < count:
                frame = read_frame(maker.stdout)
                if frame is None:
                    raise RuntimeError(f"the seeding_rows process stopped (exit status {maker.wait()}) "
                                       f"after {done} members")
                prepared = pickle.loads(frame)
                with db.write() as conn:
                    if db.is_sqlite:  # the indexes of a million random ids outgrow SQLite's 2 MB page cache
                        conn.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_CACHE_KIB}")  # this connection's
                    recorded = [r for stream in append_prepared(conn, app.store, prepared) for r in stream]
                    for projection in keyed:
                        projection._rows = {}
                        for r in recorded:
                            projection.replay(conn, r)
                        rows = [projection._encode(row) for row in projection._rows.values()]
                        projection._rows = {}
                        for i in range(0, len(rows), 2000):
                            bulk_insert(conn, projection.table, rows[i:i + 2000])
                    for projection, handled in others:
                        for r in recorded:
                            if type(r.event) in handled:
                                projection.apply(conn, r)
                done += len(prepared.appends)
        if maker.wait() != 0:
            raise RuntimeError(f"the seeding_rows process failed (exit status {maker.returncode})")
    finally:
        if maker.poll() is None:
            maker.kill()
            maker.wait()
        maker.stdout.close()
        db.dispose()
    return done, time.perf_counter() - started


# Populations of the largest communes (INSEE, rounded): the postcode data has no
# population, and a uniform spread would put as many members in a village as in Lyon.
BIG_CITIES = {
    ("Paris", "75"): 2_100_000, ("Marseille", "13"): 870_000, ("Lyon", "69"): 520_000,
    ("Toulouse", "31"): 500_000, ("Nice", "06"): 340_000, ("Nantes", "44"): 320_000,
    ("Montpellier", "34"): 300_000, ("Strasbourg", "67"): 290_000, ("Bordeaux", "33"): 260_000,
    ("Lille", "59"): 235_000, ("Rennes", "35"): 220_000, ("Reims", "51"): 180_000,
    ("Toulon", "83"): 180_000, ("Saint-Étienne", "42"): 175_000, ("Le Havre", "76"): 165_000,
    ("Grenoble", "38"): 158_000, ("Dijon", "21"): 160_000, ("Angers", "49"): 157_000,
    ("Nîmes", "30"): 150_000, ("Villeurbanne", "69"): 155_000, ("Clermont-Ferrand", "63"): 147_000,
    ("Le Mans", "72"): 145_000, ("Aix-en-Provence", "13"): 145_000, ("Brest", "29"): 140_000,
    ("Tours", "37"): 137_000, ("Amiens", "80"): 134_000, ("Limoges", "87"): 130_000,
}


_ARRONDISSEMENT = re.compile(r"^(Paris|Lyon|Marseille) \d\d$")


def commune_weights(rng: random.Random) -> tuple[list[str], list[float]]:
    """(postcodes, cumulative weights) spreading members over the communes as people are, roughly.

    A commune's weight is its population for the largest ones (BIG_CITIES, shared
    among its arrondissements), and elsewhere grows with the number of postcodes
    it has (CEDEX codes come with offices, offices with people: a town with ten
    has thousands of people, a village with one a few hundred), times a log-normal
    draw so that no two villages are alike. A member gets one of the commune's
    postcodes, at random.
    """
    from umpnet_geo import all_postcodes, lookup_postcode_all

    def city_of(name: str) -> str:  # "Paris 11" is in Paris
        found = _ARRONDISSEMENT.match(name)
        return found.group(1) if found else name

    by_commune: dict[tuple[str, str], list[str]] = {}
    for postcode in all_postcodes():
        place = lookup_postcode_all(postcode)[0]  # the postcode's main commune: registration picks it too
        by_commune.setdefault((place.city, place.departement_code), []).append(postcode)
    pieces: dict[tuple[str, str], int] = {}
    for city, departement in by_commune:
        pieces[(city_of(city), departement)] = pieces.get((city_of(city), departement), 0) + 1
    places, cumulative, total = [], [], 0.0
    for (city, departement), postcodes in sorted(by_commune.items()):
        big = BIG_CITIES.get((city_of(city), departement))
        if big is not None:
            weight = big / pieces[(city_of(city), departement)]
        else:
            weight = 700.0 * len(postcodes) ** 1.6 * rng.lognormvariate(0, 0.9)
        for postcode in postcodes:
            total += weight / len(postcodes)
            places.append(postcode)
            cumulative.append(total)
    return places, cumulative


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
    that exists gets a new password and loses its sessions. Only what is missing is added, so a run
    after a crash halfway completes the seeding.
    """
    from sqlalchemy import select

    from members.application import residence_for
    from members.domain.catalogue import NATIONAL_ADMIN
    from members.domain.member import Member
    from members.events import EmailVerified, PasswordSet
    from members.domain.session import Session
    from members.projections import SESSIONS_OF_MEMBER, members
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
                # and whoever logged in with the old password is logged out
                session_ids = uow.conn.execute(SESSIONS_OF_MEMBER, {"member_id": found[email]}).scalars().all()
                for session in uow.get_many(Session, session_ids).values():
                    session.close()

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
