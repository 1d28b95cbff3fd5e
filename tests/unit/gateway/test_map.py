"""The map of activists through the gateway (issue 8 item 6): `GET /api/map/members`, the `/carte`
page and its assets, for anonymous, a member, and bad input.

The gateway is the real one on a socket; its calls are answered by the real members
service entrypoints over the real use cases on the in-memory database (no broker).
"""
import re

import pytest
import requests
from argon2 import PasswordHasher
from nameko.testing.services import worker_factory

from members import map as members_map
from members import security
from members.application import MembersApp
from members.commands import OpenSession, UpdateProfile
from members.projections import read_models
from members.service import MembersService
from members.throttle import throttle_metadata
from umpnet_geo import coarsen, lookup_postcode
from umpnet_kernel.events import Context
from umpnet_kernel.testing import in_memory

from ..members.map_cases import add_members
from ..members.use_cases import PASSWORD, SECRET, verified
from .conftest import csrf_of

MAP_METHODS = ("resolve_session", "map_members", "open_session", "get_own_profile")


@pytest.fixture
def members(gateway, monkeypatch):
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    app = in_memory(lambda db: MembersApp(db, SECRET), read_models, throttle_metadata)
    service = worker_factory(MembersService, app=app, context=Context())
    for method in MAP_METHODS:
        gateway.handlers[method] = getattr(service, method)
    camille = verified(app, "camille@example.org")
    app.update_profile(UpdateProfile(camille, first_name="Camille", last_name="Durand"), Context())
    token = app.open_session(OpenSession("camille@example.org", PASSWORD), Context())["token"]
    app.auth = {"Authorization": f"Bearer {token}"}
    app.lyon = add_members(app, "69003", 6)
    app.few = add_members(app, "69007", 2, first="Few")
    yield app
    app.db.dispose()


def map_api(gateway, **query):
    return gateway.url + "/api/map/members", query


def get(gateway, headers=None, **query):
    return requests.get(gateway.url + "/api/map/members", params=query, headers=headers or {})


def test_anonymous_callers_get_401_and_nothing_is_asked(gateway, members):
    for headers in ({}, {"Authorization": "Bearer not-a-session"}):
        answer = get(gateway, headers, postcode="69003")
        assert answer.status_code == 401 and answer.json()["error"]["code"] == "unauthorized"
    assert not gateway.called("map_members")


def test_a_member_sees_the_crowded_cells_members_and_the_small_cells_as_counts(gateway, members):
    answer = get(gateway, members.auth, postcode="69003", radius_km="10")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    place = lookup_postcode("69003")
    cell = coarsen(place.lat, place.lon, members_map.CELL_KM)
    assert sorted(i["member_id"] for i in body["items"]) == sorted(members.lyon)
    assert {(i["lat"], i["lon"]) for i in body["items"]} == {cell}
    assert set(body["items"][0]) == {"member_id", "display_name", "lat", "lon"}
    assert [c["count"] for c in body["cells"]] == [2] and body["next_cursor"] is None
    assert not set(members.few) & {i["member_id"] for i in body["items"]}
    # by point and by federation too
    by_point = get(gateway, members.auth, lat=str(place.lat), lon=str(place.lon), radius_km="3").json()
    assert sorted(i["member_id"] for i in by_point["items"]) == sorted(members.lyon)
    assert len(get(gateway, members.auth, federation="69").json()["items"]) == 6
    assert get(gateway, members.auth, federation="75").json()["items"] == []


def test_pages_and_the_page_size_limit(gateway, members):
    first = get(gateway, members.auth, postcode="69003", limit="4").json()
    assert len(first["items"]) == 4 and first["next_cursor"]
    second = get(gateway, members.auth, postcode="69003", limit="4", cursor=first["next_cursor"]).json()
    assert len(second["items"]) == 2 and second["next_cursor"] is None and second["cells"] == []
    assert sorted(i["member_id"] for i in first["items"] + second["items"]) == sorted(members.lyon)
    too_big = get(gateway, members.auth, postcode="69003", limit="501")
    assert too_big.status_code == 400 and "limit" in too_big.json()["error"]["fields"]


@pytest.mark.parametrize("query,field", [
    ({"postcode": "6900"}, "postcode"),
    ({"postcode": "69OO3"}, "postcode"),
    ({"postcode": "00000"}, "postcode"),  # well formed, unknown: the service says so
    ({"lat": "91", "lon": "4"}, "lat"),
    ({"lat": "45", "lon": "-180.5"}, "lon"),
    ({"lat": "nan", "lon": "4"}, "lat"),
    ({"lat": "45"}, "lon"),
    ({"lat": "45", "lon": "4", "radius_km": "101"}, "radius_km"),
    ({"lat": "45", "lon": "4", "radius_km": "0"}, "radius_km"),
    ({"lat": "45", "lon": "4", "radius_km": "1e3"}, "radius_km"),
    ({"postcode": "69003", "radius_km": "-5"}, "radius_km"),
    ({"federation": "999"}, "federation"),
    ({"federation": "<script>"}, "federation"),
    ({}, "query"),
    ({"postcode": "69003", "federation": "69"}, "query"),
    ({"postcode": "69003", "cursor": "not-a-cursor"}, "cursor"),
])
def test_bad_input_is_a_400_naming_the_field(gateway, members, query, field):
    answer = get(gateway, members.auth, **query)
    assert answer.status_code == 400, answer.text
    error = answer.json()["error"]
    assert field in error["fields"], error
    assert all(re.search(r"[a-zéèà]", m) for messages in error["fields"].values() for m in messages)


def test_the_map_page_sends_anonymous_visitors_to_log_in(gateway, members):
    answer = requests.get(gateway.url + "/carte", allow_redirects=False)
    assert answer.status_code == 303 and answer.headers["Location"].endswith("/connexion")
    assert requests.get(gateway.url + "/carte/membres?federation=69").status_code == 401


def log_in(gateway, browser):
    token = browser.csrf("/connexion")
    answer = browser.post(gateway.url + "/connexion", data={"email": "camille@example.org", "password": PASSWORD,
                                                            "csrf_token": token}, allow_redirects=False)
    assert answer.status_code == 303, answer.text


def test_the_map_page_renders_for_a_member_with_its_search_and_strict_csp(gateway, members, browser):
    log_in(gateway, browser)
    page = browser.get(gateway.url + "/carte")
    assert page.status_code == 200
    html = page.text
    assert 'data-testid="members-map"' in html and 'data-source="/carte/membres?federation=69"' in html
    assert '<script src="/static/map.js"></script>' in html and "<script>" not in html
    assert "/static/vendor/leaflet/leaflet.js" in html and "/static/vendor/leaflet.markercluster/" in html
    csp = page.headers["Content-Security-Policy"]
    assert "script-src" not in csp and csp.startswith("default-src 'self'") and "unsafe-inline" not in csp
    assert "img-src 'self' data: https://tile.openstreetmap.org" in csp
    assert 'href="/carte"' in html  # in the nav
    assert html.count('data-testid="map-member-') == 6
    searched = browser.get(gateway.url + "/carte", params={"postcode": "69007", "radius_km": "1"})
    assert searched.status_code == 200 and searched.text.count('data-testid="map-member-') == 0
    assert "2 dans des zones trop peu peuplées" in searched.text
    wrong = browser.get(gateway.url + "/carte", params={"postcode": "123", "radius_km": "500"})
    assert wrong.status_code == 400 and 'data-testid="map-error"' in wrong.text
    data = browser.get(gateway.url + "/carte/membres", params={"postcode": "69003"})
    assert data.status_code == 200 and len(data.json()["items"]) == 6
    assert data.headers["Cache-Control"] == "private, no-store"
    assert browser.get(gateway.url + "/carte/membres", params={"radius_km": "200", "postcode": "69003"}).status_code == 400


def test_without_tiles_the_page_asks_no_third_party(gateway, members, browser, monkeypatch):
    monkeypatch.setenv("MAP_TILE_URL", "")
    log_in(gateway, browser)
    page = browser.get(gateway.url + "/carte")
    assert page.headers["Content-Security-Policy"] == "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'"
    assert 'data-tiles=""' in page.text


@pytest.mark.parametrize("path,kind", [
    ("/static/vendor/leaflet/leaflet.js", "text/javascript"),
    ("/static/vendor/leaflet/leaflet.css", "text/css"),
    ("/static/vendor/leaflet/images/marker-icon.png", "image/png"),
    ("/static/vendor/leaflet.markercluster/leaflet.markercluster.js", "text/javascript"),
    ("/static/vendor/leaflet.markercluster/MarkerCluster.Default.css", "text/css"),
    ("/static/map.js", "text/javascript"),
])
def test_the_map_assets_are_served_by_the_gateway(gateway, path, kind):
    answer = requests.get(gateway.url + path)
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith(kind)
    assert len(answer.content) > 500


@pytest.mark.parametrize("path", ["/static/vendor/leaflet/../../../../../etc/passwd",
                                  "/static/vendor/leaflet/%2e%2e/__init__.py", "/static/vendor/nope/leaflet.js",
                                  "/static/vendor/leaflet/missing.js"])
def test_nothing_else_is_served_from_the_vendor_folders(gateway, path):
    assert requests.get(gateway.url + path).status_code == 404


def test_empty_parameters_are_as_absent(gateway, members):
    """An empty form's `?lat=&lon=` was counted as given: "one search only", 400."""
    answer = get(gateway, members.auth, postcode="69003", lat="", lon=" ", federation="", radius_km="")
    assert answer.status_code == 200, answer.text
    assert sorted(i["member_id"] for i in answer.json()["items"]) == sorted(members.lyon)  # the default radius
    assert get(gateway, members.auth, lat="", lon="").json()["error"]["fields"] == {
        "query": ["Indiquez un point (lat et lon), un code postal ou une fédération."]}


def test_the_map_page_carries_its_first_page_so_the_script_asks_only_the_next_ones(gateway, members, browser):
    import html as html_module
    import json

    log_in(gateway, browser)
    before = len(gateway.called("map_members"))
    page = browser.get(gateway.url + "/carte", params={"postcode": "69003", "radius_km": "10", "lat": ""})
    assert page.status_code == 200 and len(gateway.called("map_members")) == before + 1
    carried = re.search(r"data-first-page='([^']*)'", page.text).group(1)
    first = json.loads(html_module.unescape(carried))
    assert first == browser.get(gateway.url + "/carte/membres", params={"postcode": "69003", "radius_km": "10"}).json()
    assert sorted(i["member_id"] for i in first["items"]) == sorted(members.lyon)
