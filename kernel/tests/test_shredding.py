"""Crypto-shredding (umpnet_kernel.shredding) on SQLite, PostgreSQL and in memory:
personal fields are stored sealed with their subject's key, load as appended,
load as placeholders once the key is destroyed, and never open with another
SECRET_KEY; the relay publishes them opened; the fast paths and upcasters keep
giving what the plain paths give."""
from dataclasses import dataclass, field

import pytest
from sqlalchemy import select, text

from umpnet_kernel import jsontext
from umpnet_kernel.application import Application
from umpnet_kernel.events import DomainEvent, Metadata, describe
from umpnet_kernel.fast import recorded_from_row
from umpnet_kernel.relay import envelope
from umpnet_kernel.shredding import (
    KeyUnusable, Shredder, open_rows, personal_fields, shredding_metadata, subject_field, subject_fields, subject_keys,
)
from umpnet_kernel.store import EventStore, create_kernel_tables, events_table
from umpnet_kernel.testing import InMemoryDatabase, temporary_database


def _v1_to_v2(data: dict) -> dict:
    return {**data, "nickname": data["first_name"].lower()}


@dataclass(frozen=True)
class PersonJoined(DomainEvent, name="test.PersonJoined", version=2):
    upcasters = {1: _v1_to_v2}

    member_id: str
    email: str = field(metadata=describe("address", personal=True))
    first_name: str = field(metadata=describe("name", personal=True))
    city: str = field(metadata=describe("not personal"))
    nickname: str = field(default="", metadata=describe("derived", personal=True))
    details: dict = field(default_factory=dict, metadata=describe("a mapping", personal=True))
    skills: tuple[str, ...] = field(default=(), metadata=describe("a list", personal=True))
    blog: str | None = field(default=None, metadata=describe("optional", personal=True))


@dataclass(frozen=True)
class ThingNoted(DomainEvent, name="test.ThingNoted", subject="owner"):
    owner: str
    note: str = field(metadata=describe("free text", personal=True))


@dataclass(frozen=True)
class LetterWritten(DomainEvent, name="test.LetterWritten", subject=("member_id", "letter_id")):
    letter_id: str
    to: str = field(metadata=describe("address", personal=True))
    member_id: str | None = None


def joined(member_id="m1", **extra):
    return PersonJoined(member_id=member_id, email=f"{member_id}@example.org", first_name="Zoé", city="Lyon",
                        nickname="zo", details={"why": "Europe"}, skills=("graphisme",), **extra)


class Backend:
    def __init__(self, db, secret="secret-one"):
        self.db = db
        self.app = (db.application(lambda d: Application(d, [], shredder=Shredder(secret)))
                    if isinstance(db, InMemoryDatabase) else Application(db, [], shredder=Shredder(secret)))
        self.store = self.app.store

    def append(self, stream_id, *events):
        with self.db.write() as conn:
            version = self.store.stream_version(conn, stream_id)
            return self.store.append(conn, stream_id, version, list(events), [Metadata() for _ in events])

    def load(self, stream_id):
        with self.db.read() as conn:
            return [r.event for r in self.store.load_stream(conn, stream_id)]

    def forget(self, subject):
        with self.db.write() as conn:
            return self.store.shredder.forget(conn, subject)

    def raw_data(self):
        if isinstance(self.db, InMemoryDatabase):
            return [e.data for e in self.db.store._log]
        with self.db.read() as conn:
            return list(conn.execute(select(events_table.c.data).order_by(events_table.c.position)).scalars())


@pytest.fixture(params=["sqlite", "postgresql", "memory"])
def backend(request, tmp_path):
    if request.param == "memory":
        db = InMemoryDatabase()
        yield Backend(db)
        db.dispose()
        return
    with temporary_database(request.param, str(tmp_path)) as db:
        with db.write() as conn:
            create_kernel_tables(conn)
            shredding_metadata.create_all(conn)
        yield Backend(db)


def test_the_class_says_which_fields_are_personal_and_whose():
    assert personal_fields(PersonJoined) == ("email", "first_name", "nickname", "details", "skills", "blog")
    assert subject_field(PersonJoined) == "member_id" and subject_field(ThingNoted) == "owner"


def test_a_subject_of_several_fields_is_the_first_set_one(backend):
    assert subject_fields(LetterWritten) == ("member_id", "letter_id")
    backend.append("letter-l1", LetterWritten(letter_id="l1", to="m1@example.org", member_id="m1"),
                   LetterWritten(letter_id="l2", to="nobody@example.org"))
    assert [jsontext.decode(raw)["__sealed__"]["s"] for raw in backend.raw_data()] == ["m1", "l2"]
    assert backend.forget("l2") and not backend.forget("l1")  # the first's key is its member's
    assert [e.to for e in backend.load("letter-l1")] == ["m1@example.org", ""]
    backend.forget("m1")
    assert [e.to for e in backend.load("letter-l1")] == ["", ""]


def test_personal_fields_are_stored_sealed_and_load_as_appended(backend):
    event = joined()
    backend.append("person-m1", event, ThingNoted(owner="m1", note="Zoé a écrit"))
    assert backend.load("person-m1") == [event, ThingNoted(owner="m1", note="Zoé a écrit")]
    raw = " ".join(backend.raw_data())
    assert "m1@example.org" not in raw and "Zoé" not in raw and "graphisme" not in raw and "Europe" not in raw
    assert "Lyon" in raw  # not personal: in clear, as before
    stored = jsontext.decode(backend.raw_data()[0])
    assert list(stored)[:8] == ["member_id", "email", "first_name", "city", "nickname", "details", "skills", "blog"]
    assert stored["email"] is None and stored["blog"] is None and "blog" not in stored["__sealed__"]["f"]


def test_an_erased_subject_loads_as_placeholders_of_each_kind_and_the_others_are_untouched(backend):
    backend.append("person-m1", joined("m1"))
    backend.append("person-m2", joined("m2"))
    assert backend.forget("m1") is True
    [erased] = backend.load("person-m1")
    assert (erased.email, erased.first_name, erased.nickname, erased.details, erased.skills, erased.blog) == (
        "", "", "", {}, (), None)
    assert erased.city == "Lyon" and erased.member_id == "m1"
    assert backend.load("person-m2") == [joined("m2")]
    assert backend.forget("m1") is False  # once


def test_forget_many_equals_forgetting_one_by_one_chunked_like_keys(backend, monkeypatch):
    import dataclasses

    from umpnet_kernel import shredding

    monkeypatch.setattr(shredding, "_KEYS_PER_QUERY", 2)  # several chunks
    for prefix in ("one", "many"):
        for i in range(5):
            backend.append(f"person-{prefix}{i}", joined(f"{prefix}{i}"))
    chosen = (0, 2, 3, 4)
    assert [backend.forget(f"one{i}") for i in chosen + (9,)] == [True] * 4 + [False]
    with backend.db.write() as conn:  # duplicates and an unknown subject are harmless
        assert backend.store.shredder.forget_many(conn, [f"many{i}" for i in chosen + (2, 9)]) == 4
        assert backend.store.shredder.forget_many(conn, []) == 0
        assert backend.store.shredder.forget_many(conn, ["many0"]) == 0  # once

    def loaded(prefix):  # each subject's events, its id and address written without the prefix
        return [dataclasses.replace(e, member_id=e.member_id.removeprefix(prefix),
                                    email=e.email.removeprefix(prefix))
                for i in range(5) for e in backend.load(f"person-{prefix}{i}")]

    assert loaded("many") == loaded("one")
    assert [e.email for e in loaded("many")] == ["", "1@example.org", "", "", ""]
    with backend.db.read() as conn:
        assert set(backend.store.shredder.keys(conn, [f"many{i}" for i in range(5)])) == {"many1"}


def test_a_key_does_not_open_with_another_secret_key(backend):
    backend.append("person-m1", joined())
    if isinstance(backend.db, InMemoryDatabase):
        backend.db.store.shredder = Shredder("secret-two")
        store = backend.db.store
    else:
        store = EventStore(Shredder("secret-two"))
    with backend.db.read() as conn:
        with pytest.raises(KeyUnusable):
            store.load_stream(conn, "person-m1")


def test_keys_at_rest_are_wrapped(backend):
    backend.append("person-m1", joined())
    with backend.db.read() as conn:
        [(subject, wrapped)] = conn.execute(select(subject_keys.c.subject_id, subject_keys.c.wrapped_key)).all()
    assert subject == "m1" and len(wrapped) == 80  # base64 of nonce, 32-byte key, tag: not the key itself


def test_an_old_version_is_opened_then_upcast(backend):
    """A v1 payload (no nickname), stored sealed, loads upcast: the upcaster sees the opened fields."""
    if isinstance(backend.db, InMemoryDatabase):
        pytest.skip("the in-memory store stores the current version only")
    shredder = backend.store.shredder
    with backend.db.write() as conn:
        [payload] = shredder.seal_all(conn, [joined()], [{"member_id": "m1", "email": "m1@example.org",
                                                          "first_name": "Zoé", "city": "Lyon"}])
        conn.execute(events_table.insert().values(
            stream_id="person-m1", version=1, event_id="e1", event_type="test.PersonJoined", schema_version=1,
            data=jsontext.encode(payload), meta=jsontext.encode({"event_id": "e1", "occurred_at": "2026-01-01T00:00:00+00:00"}),
            recorded_at=__import__("datetime").datetime(2026, 1, 1)))
    [event] = backend.load("person-m1")
    assert (event.first_name, event.nickname, event.email) == ("Zoé", "zoé", "m1@example.org")
    backend.forget("m1")
    [erased] = backend.load("person-m1")
    assert (erased.first_name, erased.nickname) == ("", "")


def test_opened_payloads_take_the_same_fast_path_as_plain_ones():
    event = joined()
    from umpnet_kernel.fast import encode_event

    row = (1, "person-m1", 1, "test.PersonJoined", 2, encode_event(event), jsontext.encode(
        {"event_id": "e", "occurred_at": "2026-01-01T00:00:00+00:00"}), "2026-01-01 00:00:00.000000")
    from_text = recorded_from_row(*row)
    from_payload = recorded_from_row(*row[:5], jsontext.decode(row[5]), *row[6:])
    assert from_text == from_payload and from_payload.event == event == PersonJoined.from_data(event.to_data())


def test_the_relay_publishes_personal_fields_opened(backend):
    if isinstance(backend.db, InMemoryDatabase):
        pytest.skip("no relay on the in-memory database")
    backend.append("person-m1", joined())
    with backend.db.read() as conn:
        rows = conn.execute(select(events_table)).all()
        assert "__sealed__" in rows[0].data
        [published] = [envelope(r) for r in open_rows(backend.db, conn, rows)]
    assert published["data"] == joined().to_data()
    backend.forget("m1")
    with backend.db.read() as conn:
        [published] = [envelope(r) for r in open_rows(backend.db, conn, conn.execute(select(events_table)).all())]
    assert published["data"]["email"] == "" and published["data"]["city"] == "Lyon"


def test_a_batch_opens_only_its_sealed_payloads(backend, monkeypatch):
    """A batch holding one sealed event used to decode and hand every payload to the shredder."""
    if isinstance(backend.db, InMemoryDatabase):
        pytest.skip("the in-memory store keeps its own loader")
    with backend.db.write() as conn:
        EventStore().append(conn, "person-m0", 0, [joined("m0")], [Metadata()])  # stored in clear
    backend.append("person-m1", joined("m1"))
    shredder, given = backend.store.shredder, []

    def open_all(conn, payloads):
        given.extend(payload["member_id"] for payload in payloads)
        return Shredder.open_all(shredder, conn, payloads)

    monkeypatch.setattr(shredder, "open_all", open_all)
    with backend.db.read() as conn:
        loaded = [r.event for r in backend.store.read_all(conn)]
        rows = conn.execute(select(events_table).order_by(events_table.c.position)).all()
        published = [envelope(r)["data"] for r in open_rows(backend.db, conn, rows)]
    assert loaded == [joined("m0"), joined("m1")]
    assert published == [joined("m0").to_data(), joined("m1").to_data()]
    assert given == ["m1", "m1"]  # the store's read, the relay's: the sealed one only


def test_events_stored_in_clear_before_sealing_are_overwritten_at_erasure(backend):
    """The one rewrite of stored events: an erased subject's clear events (appended
    before sealing existed) get the placeholders; the others' are untouched."""
    plain_joined = [joined("m1"), joined("m2")]
    if isinstance(backend.db, InMemoryDatabase):
        backend.db.store.shredder = None
        backend.append("person-m1", plain_joined[0])
        backend.append("person-m2", plain_joined[1])
        backend.db.store.shredder = backend.store.shredder = Shredder("secret-one")
    else:
        with backend.db.write() as conn:
            EventStore().append(conn, "person-m1", 0, [plain_joined[0]], [Metadata()])
            EventStore().append(conn, "person-m2", 0, [plain_joined[1]], [Metadata()])
    assert "m1@example.org" in " ".join(backend.raw_data())
    with backend.db.write() as conn:
        assert backend.store.redact_clear_events(conn, "m1") == 1
        assert backend.store.redact_clear_events(conn, "m1") == 0  # once
    raw = " ".join(backend.raw_data())
    assert "m1@example.org" not in raw and "m2@example.org" in raw
    [erased] = backend.load("person-m1")
    assert (erased.email, erased.first_name, erased.details, erased.skills, erased.city) == ("", "", {}, (), "Lyon")
    assert backend.load("person-m2") == [plain_joined[1]]
