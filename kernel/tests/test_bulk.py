"""umpnet_kernel.bulk against the plain path: `prepare_new` then `append_prepared` store what
`EventStore.append_many` stores (the same rows but for the ciphertexts, read back as the same
events; one key per new subject), on SQLite and PostgreSQL; a subject with a key already is refused."""
import pickle
from dataclasses import dataclass, field
from datetime import datetime, timezone

import pytest
from sqlalchemy import select

from umpnet_kernel import jsontext
from umpnet_kernel.bulk import append_prepared, prepare_new
from umpnet_kernel.events import DomainEvent, Metadata, describe
from umpnet_kernel.shredding import Shredder, shredding_metadata, subject_keys
from umpnet_kernel.store import ConcurrencyError, EventStore, KeyTaken, create_kernel_tables, events_table
from umpnet_kernel.testing import temporary_database


@dataclass(frozen=True)
class BulkJoined(DomainEvent, name="test.BulkJoined"):
    member_id: str
    email: str = field(metadata=describe("address", personal=True))
    city: str = field(metadata=describe("not personal"))
    themes: tuple[str, ...] = field(default=(), metadata=describe("a list"))
    blog: str | None = field(default=None, metadata=describe("optional", personal=True))


@dataclass(frozen=True)
class BulkVerified(DomainEvent, name="test.BulkVerified"):
    member_id: str


def appends_of(n: int, prefix: str):
    at = datetime(2026, 12, 2, 15, 0, tzinfo=timezone.utc)
    out = []
    for i in range(n):
        member_id = f"{prefix}{i}"
        events = [BulkJoined(member_id=member_id, email=f"{member_id}@example.invalid", city="Lyon",
                             themes=("europe",) if i % 2 else (), blog="https://b.example" if i % 3 == 0 else None),
                  BulkVerified(member_id=member_id)]
        metas = [Metadata(event_id=f"{member_id}-e{j}", occurred_at=at, actor_id="seed") for j in range(len(events))]
        out.append((f"member-{member_id}", 0, events, metas))
    return out


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path):
    with temporary_database(request.param, str(tmp_path)) as db:
        with db.write() as conn:
            create_kernel_tables(conn)
            shredding_metadata.create_all(conn)
        yield db


COLUMNS = ("position", "stream_id", "version", "event_id", "event_type", "schema_version", "meta")


def stored(conn):
    rows = conn.execute(select(events_table).order_by(events_table.c.position)).mappings().all()
    return [tuple(r[c] for c in COLUMNS) for r in rows], [jsontext.decode(r["data"]) for r in rows]


def test_the_bulk_halves_store_what_append_many_stores(database):
    store = EventStore(Shredder("bulk-secret"))
    # the plain path first, the bulk one after: the same events, 700 streams each (two INSERTs of 500 rows and more)
    with database.write() as conn:
        plain = store.append_many(conn, appends_of(700, "p"))
    prepared = pickle.loads(pickle.dumps(prepare_new(Shredder("bulk-secret"), appends_of(700, "b"))))  # crosses processes
    with database.write() as conn:
        bulk = append_prepared(conn, store, prepared)
    with database.read() as conn:
        rows, payloads = stored(conn)
        keys = conn.execute(select(subject_keys.c.subject_id)).scalars().all()
        loaded = store.load_streams(conn, [a[0] for a in appends_of(700, "p") + appends_of(700, "b")])
    half = len(rows) // 2
    assert half == 1400 and sorted(keys) == sorted([f"p{i}" for i in range(700)] + [f"b{i}" for i in range(700)])

    def same(row):  # the bulk row as the plain one would read, but for its position
        meta = jsontext.decode(row[6])
        meta["event_id"] = meta["event_id"].replace("b", "p", 1)
        return (row[1].replace("member-b", "member-p"), row[2], row[3].replace("b", "p", 1), row[4], row[5], meta)

    assert [same(r) for r in rows[half:]] == [same(r) for r in rows[:half]]
    assert [r[0] for r in rows[half:]] == [r[0] + half for r in rows[:half]]
    for plain_payload, bulk_payload in zip(payloads[:half], payloads[half:]):
        assert ("__sealed__" in plain_payload) == ("__sealed__" in bulk_payload)
        if "__sealed__" in bulk_payload:  # the same fields sealed, each with its own key and nonce
            assert bulk_payload["__sealed__"]["f"] == plain_payload["__sealed__"]["f"]
            assert bulk_payload["__sealed__"]["c"] != plain_payload["__sealed__"]["c"]
            assert "example.invalid" not in jsontext.encode(bulk_payload)
    # read back: the same events, and what append_many and append_prepared answered is what was stored
    for (stream_id, _, events, metas), answered in zip(appends_of(700, "b"), bulk):
        assert [r.event for r in loaded[stream_id]] == events == [r.event for r in answered]
        assert [r.meta for r in loaded[stream_id]] == metas
        assert [(r.position, r.version) for r in loaded[stream_id]] == [(r.position, r.version) for r in answered]
    assert [[r.position for r in s] for s in plain] == [[r.position for r in loaded[a[0]]] for a in appends_of(700, "p")]


def test_a_subject_with_a_key_already_or_a_stream_that_exists_is_refused(database):
    store = EventStore(Shredder("bulk-secret"))
    with database.write() as conn:
        store.append_many(conn, appends_of(3, "m"))
    again = appends_of(1, "m")[0]
    with pytest.raises(KeyTaken):  # m0 has a key: the bulk path is for new subjects only
        with database.write() as conn:
            append_prepared(conn, store, prepare_new(store.shredder, [again]))
    unsealed = (again[0], 0, [BulkVerified(member_id="m0")], [Metadata(event_id="other")])
    with pytest.raises(ConcurrencyError):  # nothing personal, no key: the stream's version decides
        with database.write() as conn:
            append_prepared(conn, store, prepare_new(store.shredder, [unsealed]))
    with pytest.raises(ValueError):
        prepare_new(store.shredder, [again, again])
    with database.read() as conn:
        assert store.count(conn) == 6 and len(conn.execute(select(subject_keys)).all()) == 3
