"""Keyset pagination of read-model queries (umpnet_kernel.paging), on SQLite and PostgreSQL."""
from datetime import datetime, timedelta

import pytest
from sqlalchemy import Column, DateTime, Integer, MetaData, String, Table, select

from umpnet_kernel.errors import ValidationFailed
from umpnet_kernel.paging import (
    DEFAULT_LIMIT, MAX_LIMIT, BadCursor, BadLimit, PageRequest, decode_cursor, encode_cursor, paginate, paginate_sequence,
)
from umpnet_kernel.testing import temporary_database

metadata = MetaData()
people = Table(
    "paging_people", metadata,
    Column("person_id", String(20), primary_key=True),
    Column("federation", String(10), nullable=False),
    Column("joined_at", DateTime, nullable=False),
    Column("score", Integer, nullable=False),
)
START = datetime(2026, 12, 1, 8, 0)
# 23 people; joined_at repeats (every 5th shares its minute) so that ties are broken by the id.
ROWS = [{"person_id": f"p{i:02d}", "federation": ("69", "75", "33")[i % 3],
         "joined_at": START + timedelta(minutes=i // 5), "score": (i * 7) % 10} for i in range(23)]


@pytest.fixture(params=["sqlite", "postgresql"])
def db(request, tmp_path):
    with temporary_database(request.param, str(tmp_path)) as database:
        with database.write() as conn:
            metadata.create_all(conn)
            conn.execute(people.insert(), ROWS)
        yield database


def every_page(conn, query, order_by, limit):
    """Follow the cursors from the first page to the last: (pages, every item in order)."""
    pages, cursor = [], None
    while True:
        page = paginate(conn, query, order_by, PageRequest(limit, cursor))
        pages.append(page)
        if page.next_cursor is None:
            return pages, [item for p in pages for item in p.items]
        cursor = page.next_cursor


def test_following_the_cursors_gives_every_row_once_in_order(db):
    query = select(people.c.person_id, people.c.joined_at)
    with db.read() as conn:
        pages, items = every_page(conn, query, [people.c.joined_at, people.c.person_id], limit=4)
    assert [len(p.items) for p in pages] == [4, 4, 4, 4, 4, 3]
    expected = sorted(ROWS, key=lambda r: (r["joined_at"], r["person_id"]))
    assert [i["person_id"] for i in items] == [r["person_id"] for r in expected]


def test_descending_keys_and_ties_page_like_order_by_alone(db):
    order = [people.c.score.desc(), people.c.joined_at, people.c.person_id.desc()]
    query = select(people.c.person_id, people.c.score, people.c.joined_at)
    with db.read() as conn:
        whole = [row.person_id for row in conn.execute(query.order_by(*order))]
        for limit in (1, 3, 7, 23, 50):
            _, items = every_page(conn, query, order, limit)
            assert [i["person_id"] for i in items] == whole, limit


def test_filters_of_the_query_are_kept_on_every_page(db):
    query = select(people.c.person_id, people.c.federation).where(people.c.federation == "69")
    with db.read() as conn:
        _, items = every_page(conn, query, [people.c.person_id], limit=3)
    assert [i["person_id"] for i in items] == [r["person_id"] for r in ROWS if r["federation"] == "69"]


def test_a_row_inserted_before_the_cursor_does_not_shift_the_next_page(db):
    """What OFFSET gets wrong: a row added on an earlier page repeats or hides a row."""
    query = select(people.c.person_id)
    with db.read() as conn:
        first = paginate(conn, query, [people.c.person_id], PageRequest(5))
    with db.write() as conn:
        conn.execute(people.insert(), {"person_id": "p00a", "federation": "69", "joined_at": START, "score": 0})
    with db.read() as conn:
        second = paginate(conn, query, [people.c.person_id], PageRequest(5, first.next_cursor))
    assert [i["person_id"] for i in first.items] == ["p00", "p01", "p02", "p03", "p04"]
    assert [i["person_id"] for i in second.items] == ["p05", "p06", "p07", "p08", "p09"]


def test_the_last_page_has_no_next_cursor_even_when_full(db):
    with db.read() as conn:
        page = paginate(conn, select(people.c.person_id), [people.c.person_id], PageRequest(23))
    assert len(page.items) == 23 and page.next_cursor is None
    assert page.as_dict() == {"items": page.items, "next_cursor": None}


def test_a_cursor_that_does_not_fit_the_keys_is_a_bad_cursor_not_a_database_error(db):
    query = select(people.c.person_id, people.c.joined_at)
    order = [people.c.joined_at, people.c.person_id]
    with db.read() as conn:
        for key in (["p01"], [1, "p01"], ["yesterday", "p01"], [{"dt": "2026-12-01T08:00:00"}, 5]):
            with pytest.raises(BadCursor):
                paginate(conn, query, order, PageRequest(5, encode_cursor(key)))


def test_limits_are_checked_and_default_to_fifty():
    assert PageRequest.parse() == PageRequest(DEFAULT_LIMIT, None) and DEFAULT_LIMIT == 50
    assert PageRequest.parse("500", "") == PageRequest(MAX_LIMIT, None)
    assert PageRequest.parse(None, None, default_limit=500).limit == 500
    for bad in ("0", "501", "-1", "abc", "1.5", "1e3", " 5", "٣"):
        with pytest.raises(BadLimit) as refused:
            PageRequest.parse(bad)
        assert isinstance(refused.value, ValidationFailed)
        assert refused.value.status == 400 and set(refused.value.fields) == {"limit"}, bad


@pytest.mark.parametrize("cursor", ["%%%", "bm90IGpzb24", encode_cursor([])[:-1] + "x", "W10", "e30",
                                    "WyJhIiwgdHJ1ZV0", "x" * 2000, "WyJhIiwgeyJkdCI6IDF9XQ", "WyJhIiwgbnVsbF0"])
def test_a_cursor_not_made_here_is_a_clear_400(cursor):
    with pytest.raises(BadCursor) as refused:
        PageRequest.parse("10", cursor)
    error = refused.value
    assert (error.status, error.code, set(error.fields)) == (400, "bad_cursor", {"cursor"})
    assert isinstance(error, ValidationFailed)


def test_cursors_round_trip_strings_numbers_and_times():
    key = ["Île-de-France é", 42, 2.5, datetime(2026, 12, 2, 3, 4, 5)]
    assert decode_cursor(encode_cursor(key)) == key
    assert "=" not in encode_cursor(key) and "/" not in encode_cursor(key) and "+" not in encode_cursor(key)


def test_a_list_in_memory_pages_exactly_as_the_query_does(db):
    """`paginate_sequence` (reference data in memory) is `paginate` on the same rows: same items, same cursors."""
    order = [people.c.joined_at, people.c.person_id]
    query = select(people.c.person_id, people.c.joined_at)
    with db.read() as conn:
        rows = [dict(r._mapping) for r in conn.execute(query.order_by(*order))]
        for limit in (1, 4, 22, 23, 24):
            cursor = None
            while True:
                from_query = paginate(conn, query, order, PageRequest(limit, cursor))
                in_memory = paginate_sequence(rows, lambda r: (r["joined_at"], r["person_id"]), PageRequest(limit, cursor))
                assert in_memory == from_query, (limit, cursor)
                if from_query.next_cursor is None:
                    break
                cursor = from_query.next_cursor


def test_a_list_in_memory_refuses_a_cursor_naming_no_item():
    items = [{"code": "69"}, {"code": "75"}]
    assert paginate_sequence(items, lambda f: (f["code"],), PageRequest(1)).next_cursor == encode_cursor(["69"])
    with pytest.raises(BadCursor):
        paginate_sequence(items, lambda f: (f["code"],), PageRequest(1, encode_cursor(["2A"])))
