"""`fast.py`: the kernel's fast paths give exactly what the plain ones gave (see docs/benchmarks.md).

- appends: `fast_dumper` instead of marshmallow's dump, one multi-row INSERT;
- reads: `fast_loader` / `dataclass_builder` instead of __init__, recorded_at
  read as text on SQLite, rows streamed by `iter_all`;
- rebuilds: `bulk_insert` instead of SQLAlchemy's executemany, the cycle
  collector paused.

The backends' own paths are checked in test_sqlite.py and test_postgres.py.
"""
from __future__ import annotations

import gc
import json
from unittest import mock
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

import pytest
from sqlalchemy import (
    Boolean, Column, Connection, Date, DateTime, Float, Integer, MetaData, String, Table, Text, insert, text,
)

from umpnet_kernel.application import Application
from umpnet_kernel.events import Context, DomainEvent, Metadata
from umpnet_kernel.fast import bulk_insert, dataclass_builder, fast_dumper, fast_loader, recorded_at
from umpnet_kernel.jsontext import decode as _decode_json
from umpnet_kernel.projections import KeyedProjection, handles, rebuild
from umpnet_kernel.schema import schema_for
from umpnet_kernel.store import ConcurrencyError, EventStore
from umpnet_kernel.testing import dump_tables

from sample_domain import AccountOpened, MoneyDeposited

store = EventStore()


@dataclass(frozen=True)
class Joined(DomainEvent, name="perf.Joined"):
    member_id: str
    email: str
    born: date
    at: datetime
    tags: tuple[str, ...] = ()
    score: float = 0.0
    extra: dict = field(default_factory=dict)
    nickname: str | None = None


@dataclass(frozen=True)
class Verified(DomainEvent, name="perf.Verified"):
    member_id: str
    verified: bool
    at: datetime


class CustomData(DomainEvent, name="perf.CustomData"):
    """An event class that serialises itself: the store must keep asking it."""

    def __init__(self, value):
        self.value = value

    def to_data(self):
        return {"value": self.value * 2}

    @classmethod
    def from_data(cls, data, stored_version=None):
        return cls(data["value"] // 2)


@dataclass(frozen=True)
class Checked(DomainEvent, name="perf.Checked"):
    n: int

    def __post_init__(self):
        if self.n < 0:
            raise ValueError("negative")


def joined(n: int, **overrides) -> Joined:
    values = dict(
        member_id=f"m{n}", email=f"m{n}@example.org", born=date(1980, 1, 1) + timedelta(days=n),
        at=datetime(2026, 1, 1, tzinfo=timezone.utc) + timedelta(minutes=n), tags=("a", f"t{n}"),
        score=n / 3, extra={"n": n}, nickname=None if n % 2 else f"nick{n}",
    )
    return Joined(**{**values, **overrides})


# -- dumping ---------------------------------------------------------------------------
class Text2(str):
    pass


@pytest.mark.parametrize(
    "event",
    [
        joined(1),
        joined(2),
        joined(3, tags=["list", "not", "tuple"]),
        joined(4, tags=(None, "x")),
        joined(5, score=3),  # an int in a float field: marshmallow makes it 3.0
        joined(6, email=Text2("subclass@example.org")),
        joined(7, at=datetime(2026, 1, 1)),  # naive
        joined(8, born=datetime(2026, 1, 1, 12, 30)),  # a datetime in a date field
        joined(9, nickname=None, email=None),  # None where not optional: dumped as None, as before
        Verified(member_id="m1", verified=True, at=datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=2)))),
        Verified(member_id="m1", verified=1, at=datetime(2026, 1, 1, tzinfo=timezone.utc)),
        MoneyDeposited(account_id="a", amount=True, currency="EUR"),  # a bool in an int field
        AccountOpened(account_id="a", owner="o", tags=("x",)),
    ],
)
def test_the_fast_dumper_gives_what_marshmallow_gives(event):
    fast, slow = fast_dumper(type(event))(event), schema_for(type(event)).dump(event)
    assert fast == slow
    assert list(fast) == list(slow)
    assert [type(v) for v in fast.values()] == [type(v) for v in slow.values()]


# -- loading ---------------------------------------------------------------------------
def test_the_fast_loader_builds_equal_events_and_leaves_the_payload_alone():
    event = joined(3)
    payload = json.loads(json.dumps(event.to_data()))
    before = json.loads(json.dumps(payload))
    loaded = fast_loader(Joined)(payload)
    assert loaded == event and vars(loaded) == vars(event)
    assert list(vars(loaded)) == list(vars(event))  # same attribute order as __init__ gives
    assert payload == before


def test_the_fast_loader_handles_reordered_missing_and_unknown_fields():
    payload = {"at": "2026-01-01T00:00:00+00:00", "born": "1980-01-02", "email": "e", "member_id": "m", "new": 1}
    loaded = fast_loader(Joined)(payload)
    assert loaded == Joined(member_id="m", email="e", born=date(1980, 1, 2),
                            at=datetime(2026, 1, 1, tzinfo=timezone.utc))
    with pytest.raises(TypeError):
        fast_loader(Joined)({"member_id": "m"})


def test_classes_whose_init_does_more_are_built_through_it():
    assert dataclass_builder(Checked) is None
    with pytest.raises(ValueError):
        fast_loader(Checked)({"n": -1})

    @dataclass(frozen=True, slots=True)
    class Slotted:
        n: int

    assert dataclass_builder(Slotted) is None
    assert dataclass_builder(Metadata) is not None


def test_stored_json_is_read_as_json_loads_reads_it():
    for raw in ['{"a":1}', ' {"a":1}', '{"a":1} ', "[1,2]", '"x"', "null"]:
        assert _decode_json(raw) == json.loads(raw)
    for bad in ["", '{"a":', '{"a":1}x']:
        with pytest.raises(json.JSONDecodeError):
            _decode_json(bad)


def test_recorded_at_always_has_a_zone():
    utc = timezone.utc
    assert recorded_at("2026-11-23 08:17:35.891560") == datetime(2026, 11, 23, 8, 17, 35, 891560, tzinfo=utc)
    assert recorded_at("2026-11-23 08:17:35") == datetime(2026, 11, 23, 8, 17, 35, tzinfo=utc)
    plus_two = timezone(timedelta(hours=2))
    assert recorded_at("2026-11-23 08:17:35+02:00") == datetime(2026, 11, 23, 8, 17, 35, tzinfo=plus_two)
    assert recorded_at(datetime(2026, 1, 1)) == datetime(2026, 1, 1, tzinfo=utc)


# -- the store -------------------------------------------------------------------------
def test_a_large_append_keeps_positions_in_version_order(database):
    events = [joined(n) for n in range(1234)]  # more rows than one INSERT statement takes
    metas = [Metadata(actor_id="a") for _ in events]
    with database.write() as conn:
        store.append(conn, "other-1", 0, [joined(-1)], [Metadata()])
        recorded = store.append(conn, "member-1", 0, events, metas)
    assert [r.version for r in recorded] == list(range(1, 1235))
    positions = [r.position for r in recorded]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    with database.read() as conn:
        loaded = store.load_stream(conn, "member-1")
    assert [r.position for r in loaded] == positions
    assert [r.event for r in loaded] == events
    assert [r.meta for r in loaded] == metas
    assert all(r.recorded_at == recorded[0].recorded_at for r in loaded)


def test_events_are_stored_as_their_schema_dumps_them(database):
    events = [joined(1), joined(2, score=2), Verified(member_id="m1", verified=True, at=datetime.now(timezone.utc))]
    with database.write() as conn:
        store.append(conn, "member-1", 0, events, [Metadata() for _ in events])
    with database.read() as conn:
        stored = [json.loads(r.data) for r in conn.execute(text("SELECT data FROM events ORDER BY position"))]
    assert stored == [schema_for(type(e)).dump(e) for e in events]


def test_a_class_with_its_own_serialisation_keeps_it(database):
    with database.write() as conn:
        store.append(conn, "custom-1", 0, [CustomData(21)], [Metadata()])
    with database.read() as conn:
        (data,) = conn.execute(text("SELECT data FROM events")).scalars()
        (record,) = store.load_stream(conn, "custom-1")
    assert json.loads(data) == {"value": 42}
    assert record.event.value == 21


def test_a_stale_append_in_a_big_batch_still_fails_whole(database):
    with database.write() as conn:
        store.append(conn, "member-1", 0, [joined(0)], [Metadata()])
    with pytest.raises(ConcurrencyError):
        with database.write() as conn:
            store.append(conn, "member-1", 0, [joined(n) for n in range(600)], [Metadata() for _ in range(600)])
    with database.read() as conn:
        assert store.count(conn) == 1


# -- rebuilds --------------------------------------------------------------------------
perf_models = MetaData()
perf_members = Table(
    "perf_members",
    perf_models,
    Column("member_id", String(36), primary_key=True),
    Column("email", String(200)),
    Column("born", Date),
    Column("joined_at", DateTime(timezone=True)),
    Column("naive_at", DateTime),
    Column("verified", Boolean, nullable=False),
    Column("score", Float),
    Column("tags", Text),
    Column("extra", Text),
    Column("nickname", String(50)),
    Column("events", Integer, nullable=False),
)


class PerfMembers(KeyedProjection):
    name = "perf_members"
    table = perf_members
    key_column = "member_id"
    json_columns = ("tags", "extra")

    @handles(Joined)
    def joined(self, row, event, recorded):
        return {
            "member_id": event.member_id, "email": event.email, "born": event.born, "joined_at": event.at,
            "naive_at": event.at.replace(tzinfo=None), "verified": False, "score": event.score,
            "tags": list(event.tags), "extra": event.extra, "nickname": event.nickname, "events": 1,
        }

    @handles(Verified)
    def verified(self, row, event, recorded):
        return {**row, "verified": event.verified, "joined_at": event.at, "events": row["events"] + 1}


@pytest.fixture
def perf_app(database):
    with database.write() as conn:
        perf_models.create_all(conn)
    return Application(database, [PerfMembers()])


def test_a_rebuild_gives_the_rows_the_live_projection_wrote(perf_app):
    for n in range(40):
        perf_app.execute(Context(), lambda uow, n=n: uow.append(f"member-{n}", 0, [joined(n)]))
        if n % 3 == 0:
            at = datetime(2026, 2, 1, tzinfo=timezone(timedelta(hours=1))) + timedelta(seconds=n)
            perf_app.execute(
                Context(), lambda uow, n=n, at=at: uow.append(f"member-{n}", 1, [Verified(f"m{n}", True, at)])
            )
    with perf_app.read() as conn:
        live = dump_tables(conn, [perf_members])
    gc.enable()
    with perf_app.db.write() as conn:
        assert rebuild(conn, perf_app.store, perf_app.projections) == 54
    assert gc.isenabled()
    with perf_app.read() as conn:
        assert dump_tables(conn, [perf_members]) == live


def test_a_rebuild_leaves_the_collector_as_it_found_it(perf_app):
    class Failing(PerfMembers):
        @handles(Joined)
        def joined(self, row, event, recorded):
            raise RuntimeError("boom")

    perf_app.execute(Context(), lambda uow: uow.append("member-1", 0, [joined(1)]))
    with pytest.raises(RuntimeError):
        with perf_app.db.write() as conn:
            rebuild(conn, perf_app.store, [Failing()])
    assert gc.isenabled()
    gc.disable()
    try:
        with perf_app.db.write() as conn:
            rebuild(conn, perf_app.store, perf_app.projections)
        assert not gc.isenabled()
    finally:
        gc.enable()


def _rows(conn):
    return dump_tables(conn, [perf_members])["perf_members"]


def _perf_row(n, **overrides):
    values = {
        "member_id": f"m{n}", "email": f"é{n}\"'", "born": date(1999, 12, 31) if n % 2 else None,
        "joined_at": datetime(2026, 1, 1, 12, tzinfo=timezone(timedelta(hours=n % 3))),
        "naive_at": datetime(1, 1, 1) if n == 1 else datetime(2026, 5, 6, 7, 8, 9, n),
        "verified": bool(n % 2), "score": n / 7, "tags": "[]", "extra": None, "nickname": None, "events": n,
    }
    return {**values, **overrides}


@pytest.mark.parametrize(
    "odd_row",
    [
        None,  # all plain: the fast path
        _perf_row(50, verified=1),  # an int for a boolean
        _perf_row(50, born=datetime(2026, 1, 1, 23, 0)),  # a datetime in a date column
        _perf_row(50, naive_at=datetime(2026, 1, 1, 23, 0, tzinfo=timezone(timedelta(hours=5)))),  # zoned, naive column
        _perf_row(50, score=float("inf")),  # not JSON
        _perf_row(50, score=5),  # an int in a float column
    ],
)
def test_bulk_insert_writes_what_sqlalchemy_would(perf_app, odd_row):
    rows = [_perf_row(n) for n in range(50)] + ([odd_row] if odd_row else [])
    with perf_app.db.write() as conn:
        conn.execute(insert(perf_members), rows)
        expected = _rows(conn)
        conn.execute(perf_members.delete())
        if odd_row is None:  # the fast path never asks SQLAlchemy to build the insert
            with mock.patch.object(Connection, "execute", side_effect=AssertionError("slow path")):
                bulk_insert(conn, perf_members, rows)
        else:
            bulk_insert(conn, perf_members, rows)
        assert _rows(conn) == expected


def test_bulk_insert_leaves_rows_of_other_shapes_to_sqlalchemy(perf_app):
    rows = [_perf_row(1), {k: v for k, v in _perf_row(2).items() if k != "email"}]
    with perf_app.db.write() as conn:
        with pytest.raises(Exception, match="email"):  # SQLAlchemy refuses them, as it did
            with conn.begin_nested():
                bulk_insert(conn, perf_members, rows)


def test_a_dataclass_with_a_handwritten_init_is_built_through_it():
    @dataclass(frozen=True)
    class Normalised:
        email: str

        def __init__(self, email):
            object.__setattr__(self, "email", email.lower())

    assert dataclass_builder(Normalised) is None
    assert fast_loader(Normalised)({"email": "A@B.C"}).email == "a@b.c"
    assert dataclass_builder(Joined) is not None


def test_iter_all_streams_every_event_in_position_order(database):
    with database.write() as conn:
        for n in range(25):
            store.append(conn, f"member-{n}", 0, [joined(n)], [Metadata()])
            store.append(conn, f"member-{n}", 1, [Verified(f"m{n}", True, datetime.now(timezone.utc))], [Metadata()])
    with database.read() as conn:
        everything = store.read_all(conn)
        assert list(store.iter_all(conn, batch_size=7)) == everything
        verified = list(store.iter_all(conn, batch_size=4, event_types={"perf.Verified"}))
        assert verified == [r for r in everything if r.event.event_name == "perf.Verified"]
        assert len(verified) == 25


@pytest.mark.parametrize("score", [float("nan"), float("inf"), -float("inf")])
def test_a_float_with_no_json_form_is_refused_before_anything_is_stored(database, score):
    event = Joined(member_id="m", email="m@example.org", born=date(2000, 1, 1),
                   at=datetime(2026, 1, 1, tzinfo=timezone.utc), score=score)
    with pytest.raises(ValueError):
        with database.write() as conn:
            EventStore().append(conn, "member-m", 0, [event], [Context().metadata()])
    with database.read() as conn:
        assert EventStore().load_stream(conn, "member-m") == []
