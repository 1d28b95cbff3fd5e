"""The map of activists (members/map.py), scenarios through `MembersApp`.

Run in memory by tests/unit/members/test_map.py and on SQLite and PostgreSQL by
tests/integration/test_members_map.py (each gives the `app` fixture).
"""
import uuid

import pytest

from members import map as members_map
from members.application import residence_for
from members.commands import UpdateProfile
from members.domain.member import Member
from members.events import EmailVerified
from members.projections import read_models
from umpnet_geo import coarsen, lookup_postcode
from umpnet_kernel.errors import ValidationFailed
from umpnet_kernel.events import Context
from umpnet_kernel.testing import dump_tables

LYON_03, LYON_07 = "69003", "69007"


def add_members(app, postcode, count, verified=True, on_map=True, first="Anne", federation=None):
    """`count` members at `postcode` (written as the seeder writes them: no hashing, no mail)."""
    ids = []

    def run(uow):
        for i in range(count):
            member_id = str(uuid.uuid4())
            member = Member.register(member_id, f"m-{member_id}@members.invalid", "x", f"{first}{i}", "Zed",
                                     residence_for(postcode, federation))
            base, events = member.collect_pending()
            uow.append(member.stream_id, base, [*events, *([EmailVerified(member_id=member_id)] if verified else [])])
            ids.append(member_id)

    app.execute(Context(), run)
    if on_map:
        for member_id in ids:
            app.update_profile(UpdateProfile(member_id=member_id, map_visible=True), Context())
    return ids


def around(app, postcode=None, radius_km=5, **kw):
    if postcode is not None:
        return app.map_members(postcode=postcode, radius_km=radius_km, **kw)
    return app.map_members(radius_km=radius_km, **kw)


def test_members_who_opted_out_or_are_unverified_never_appear(app):
    shown = add_members(app, LYON_03, 5)
    add_members(app, LYON_03, 4, on_map=False, first="Out")
    add_members(app, LYON_03, 3, verified=False, first="Unverified")
    page = around(app, LYON_03)
    assert sorted(i["member_id"] for i in page["items"]) == sorted(shown)
    assert all(i["display_name"].startswith("Anne") for i in page["items"])
    assert page["cells"] == []


def test_positions_are_the_communes_cell_the_same_for_everyone_and_every_time(app):
    add_members(app, LYON_03, 6)
    place = lookup_postcode(LYON_03)
    expected = coarsen(place.lat, place.lon, members_map.CELL_KM)
    first = around(app, LYON_03)
    assert {(i["lat"], i["lon"]) for i in first["items"]} == {expected}
    assert expected != (place.lat, place.lon)  # snapped: not the commune's own point either
    assert around(app, LYON_03) == first  # no jitter: the same answer twice


def test_a_cell_with_fewer_than_five_members_is_only_a_count(app):
    add_members(app, LYON_03, 5)
    lonely = add_members(app, LYON_07, 4, first="Lonely")
    page = around(app, LYON_03, radius_km=10)
    assert not {i["member_id"] for i in page["items"]} & set(lonely)
    place = lookup_postcode(LYON_07)
    lat, lon = coarsen(place.lat, place.lon, members_map.CELL_KM)
    assert page["cells"] == [{"lat": lat, "lon": lon, "count": 4}]
    # a federation filter does not make a small cell's members visible either
    assert not {i["member_id"] for i in app.map_members(federation="69")["items"]} & set(lonely)
    add_members(app, LYON_07, 1, first="Fifth")  # the fifth: now they show
    assert len({i["member_id"] for i in around(app, LYON_03, radius_km=10)["items"]} & set(lonely)) == 4


def test_leaving_the_map_takes_the_member_off_and_can_shrink_a_cell_to_a_count(app):
    ids = add_members(app, LYON_03, 5)
    app.update_profile(UpdateProfile(member_id=ids[0], map_visible=False), Context())
    page = around(app, LYON_03)
    assert page["items"] == [] and page["cells"][0]["count"] == 4


def test_moving_moves_the_member_to_the_new_communes_cell(app):
    ids = add_members(app, LYON_03, 5)
    add_members(app, "33000", 5)
    app.update_profile(UpdateProfile(member_id=ids[0], postcode="33000"), Context())
    bordeaux = {i["member_id"] for i in around(app, "33000")["items"]}
    assert ids[0] in bordeaux and len(bordeaux) == 6
    assert ids[0] not in {i["member_id"] for i in around(app, LYON_03)["items"]}


def test_radius_point_postcode_and_federation_filters(app):
    lyon = add_members(app, LYON_03, 5)
    paris = add_members(app, "75011", 5, first="Paris")
    corsica = add_members(app, "69003", 5, first="Chose", federation="2A")  # lives in Lyon, federation 2A
    place = lookup_postcode("75011")
    by_point = app.map_members(lat=place.lat, lon=place.lon, radius_km=10)
    assert {i["member_id"] for i in by_point["items"]} == set(paris)
    assert {i["member_id"] for i in around(app, "75011", radius_km=10)["items"]} == set(paris)
    assert {i["member_id"] for i in around(app, LYON_03, radius_km=100)["items"]} == set(lyon) | set(corsica)
    assert {i["member_id"] for i in app.map_members(federation="2A")["items"]} == set(corsica)
    assert {i["member_id"] for i in app.map_members(federation="75")["items"]} == set(paris)
    assert app.map_members(federation="13") == {"items": [], "cells": [], "next_cursor": None}


def test_pages_follow_each_other_without_repeating_or_skipping(app):
    ids = add_members(app, LYON_03, 7) + add_members(app, LYON_07, 6)
    seen, cursor, pages = [], None, 0
    while True:
        page = around(app, LYON_03, radius_km=10, limit=3, cursor=cursor)
        seen += [i["member_id"] for i in page["items"]]
        pages += 1
        if page["next_cursor"] is None:
            break
        assert page["cells"] == [] or pages == 1
        cursor = page["next_cursor"]
    assert pages == 5 and sorted(seen) == sorted(ids) and len(seen) == len(set(seen))
    # nearest cell first
    first = around(app, LYON_03, radius_km=10, limit=7)["items"]
    place = lookup_postcode(LYON_03)
    assert {(i["lat"], i["lon"]) for i in first} == {coarsen(place.lat, place.lon, members_map.CELL_KM)}


@pytest.mark.parametrize("query,field", [
    ({"lat": 91, "lon": 2, "radius_km": 5}, "lat"),
    ({"lat": 45, "lon": -181, "radius_km": 5}, "lon"),
    ({"lat": 45, "lon": 4, "radius_km": 101}, "radius_km"),
    ({"lat": 45, "lon": 4, "radius_km": 0}, "radius_km"),
    ({"postcode": "00000", "radius_km": 5}, "postcode"),
    ({"postcode": "7501", "radius_km": 5}, "postcode"),
    ({"federation": "999"}, "federation"),
    ({"lat": 45, "lon": 4, "radius_km": 5, "limit": 501}, "limit"),
    ({"lat": 45, "lon": 4, "radius_km": 5, "cursor": "garbage!"}, "cursor"),
])
def test_bad_queries_name_their_field(app, query, field):
    with pytest.raises(ValidationFailed) as caught:
        app.map_members(**query)
    assert field in caught.value.fields


def test_rebuilding_gives_back_the_same_map_rows(app):
    ids = add_members(app, LYON_03, 5) + add_members(app, "75011", 3, on_map=False)
    app.update_profile(UpdateProfile(member_id=ids[1], map_visible=False, first_name="Renamed"), Context())
    tables = [read_models.tables["map_members"]]
    with app.read() as conn:
        before = dump_tables(conn, tables)
    before_page = around(app, LYON_03)
    app.rebuild_read_models()
    with app.read() as conn:
        assert dump_tables(conn, tables) == before
    assert around(app, LYON_03) == before_page
    assert len(before["map_members"]) == 8


def test_an_index_built_afresh_answers_as_the_one_kept_in_step(app):
    add_members(app, LYON_03, 5)
    ids = add_members(app, LYON_07, 5)
    kept = around(app, LYON_03, radius_km=10)  # loaded, then kept in step below
    app.update_profile(UpdateProfile(member_id=ids[0], map_visible=False), Context())
    kept = around(app, LYON_03, radius_km=10)
    app.map_index = members_map.MapIndex()
    assert around(app, LYON_03, radius_km=10) == kept


def test_forgetting_a_member_takes_them_off_every_index(app):
    ids = add_members(app, LYON_03, 6)
    around(app, LYON_03)
    table = read_models.tables["map_members"]
    with app.db.write() as conn:  # what the MemberErased handler writes (members.map.forget)
        conn.execute(table.delete().where(table.c.member_id == ids[0]))
        conn.execute(table.insert(), members_map.forget(ids[0], 10**9))
    assert ids[0] not in {i["member_id"] for i in around(app, LYON_03)["items"]}
    with app.read() as conn:
        row = conn.execute(table.select().where(table.c.member_id == ids[0])).mappings().one()
    assert (row["display_name"], row["federation_code"], row["visible"]) == ("", "", False)


def test_a_member_who_chooses_another_federation_moves_in_the_federation_filter(app):
    ids = add_members(app, LYON_03, 5)
    assert len(app.map_members(federation="69")["items"]) == 5  # the index is loaded here, then kept in step
    app.update_profile(UpdateProfile(member_id=ids[0], federation_code="2A"), Context())
    assert [i["member_id"] for i in app.map_members(federation="2A")["items"]] == [ids[0]]
    assert ids[0] not in {i["member_id"] for i in app.map_members(federation="69")["items"]}
    app.update_profile(UpdateProfile(member_id=ids[0], map_visible=False), Context())
    assert app.map_members(federation="2A")["items"] == []
    assert app.map_index.federation_cells.get("2A") == set()
