"""`umpnet seed --members N` (umpnet_ops.seeding): ordinary events, read models equal to a
rebuild's, members spread over the communes as people are, a fifth of them on the map."""
from collections import Counter

import pytest
from argon2 import PasswordHasher
from sqlalchemy import func, select

from members import security
from members.application import MembersApp
from members.map import map_members
from members.projections import members, read_models
from umpnet_kernel.database import Database
from umpnet_kernel.testing import dump_tables
from umpnet_ops.seeding import seed_members

pytestmark = pytest.mark.integration


@pytest.fixture(params=["sqlite", "postgresql"])
def members_url(request, migrated_url, monkeypatch):
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    url = migrated_url("members", request.param)
    monkeypatch.setenv("MEMBERS_DATABASE_URL", url)
    monkeypatch.setenv("SECRET_KEY", "test-secret")
    return url


def test_seeded_members_are_what_a_rebuild_makes_of_their_events(members_url):
    count, _ = seed_members(1200, "seed-password-for-tests", batch=500, seed=7)
    assert count == 1200
    db = Database(members_url)
    app = MembersApp(db, "test-secret")
    try:
        tables = list(read_models.sorted_tables)
        with db.read() as conn:
            before = dump_tables(conn, tables)
            map_rows = conn.execute(select(map_members)).mappings().all()
            assert app.store.count(conn) == 1200 * 3 + sum(1 for r in map_rows if r["map_visible"])
        app.rebuild_read_models()
        with db.read() as conn:
            assert dump_tables(conn, tables) == before
            verified = conn.execute(select(func.count()).where(members.c.email_verified)).scalar()
            federations = Counter(conn.execute(select(members.c.federation_code)).scalars())
        assert verified == 1200
        on_map = sum(1 for r in map_rows if r["visible"])
        assert 170 <= on_map <= 310  # a fifth, give or take chance
        # spread as people are: Paris holds far more than the Creuse and Lozère together
        assert federations["75"] > 5 * (federations["23"] + federations["48"]) and len(federations) > 60
        assert app.map_members(postcode="75011", radius_km=20)["items"]  # crowded cells show members
    finally:
        db.dispose()


def test_the_seeders_ids_are_the_uuids_uuid_makes():
    import random
    import uuid

    from umpnet_ops.seeding_rows import uuid4_text

    rng = random.Random(3)
    for bits in [0, (1 << 128) - 1, *(rng.getrandbits(128) for _ in range(2000))]:
        assert uuid4_text(bits) == str(uuid.UUID(int=bits, version=4))


def test_the_rows_process_failing_fails_the_seed(members_url, monkeypatch):
    import sys

    with pytest.raises(ValueError):
        seed_members(10, "seed-password-for-tests", batch=0)
    monkeypatch.setattr(sys, "executable", "/bin/false")  # the process that makes the rows exits at once, status 1
    with pytest.raises(RuntimeError, match=r"seeding_rows process stopped \(exit status 1\) after 0 members"):
        seed_members(10, "seed-password-for-tests", seed=7)
    db = Database(members_url)
    try:
        with db.read() as conn:
            assert conn.execute(select(func.count()).select_from(members)).scalar() == 0
    finally:
        db.dispose()
