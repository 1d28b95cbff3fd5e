"""The map of activists (map_cases.py) on the in-memory database, and the geocoder choice."""
import http.server
import json
import threading
from functools import lru_cache

import pytest

from members.geocoding import PostcodeLocator, geocoder_named
from members.projections import read_models
from umpnet_geo import OfflineGeocoder, lookup_postcode
from umpnet_kernel.testing import InMemoryDatabase

from .map_cases import *  # noqa: F401,F403 (the scenarios, collected here)
from .use_cases import SECRET


def test_geocoder_is_chosen_by_name_without_any_network():
    from geopy.geocoders import BANFrance, Nominatim

    assert isinstance(geocoder_named(None), OfflineGeocoder)
    assert isinstance(geocoder_named("offline"), OfflineGeocoder)
    ban = geocoder_named("BANFrance")
    assert isinstance(ban, BANFrance) and ban.headers["User-Agent"] == "umpnet"
    nominatim = geocoder_named("nominatim", domain="nominatim.example.org")
    assert isinstance(nominatim, Nominatim) and nominatim.domain == "nominatim.example.org"
    with pytest.raises(ValueError):
        geocoder_named("googlev3")


class _BanLike(http.server.BaseHTTPRequestHandler):
    """A BAN-like search answering one point, and recording what was asked (an external service's stand-in)."""

    asked: list = []

    def do_GET(self):
        type(self).asked.append(self.path)
        body = json.dumps({"type": "FeatureCollection", "features": [{
            "type": "Feature", "geometry": {"type": "Point", "coordinates": [4.85, 45.76]},
            "properties": {"label": "69003 Lyon", "score": 0.9}}]}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def ban_server():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _BanLike)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _BanLike.asked = []
    yield f"127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_an_online_geocoder_answers_searches_and_the_offline_data_backs_it_up(ban_server):
    locator = PostcodeLocator(geocoder_named("banfrance", domain=ban_server, scheme="http"))
    assert locator.locate("69003") == (45.76, 4.85)
    assert _BanLike.asked and _BanLike.asked[0].startswith("/search?") and "69003" in _BanLike.asked[0]
    locator.locate("69003")
    assert len(_BanLike.asked) == 1  # remembered
    assert locator.locate("00000") is None and len(_BanLike.asked) == 1  # unknown codes are not sent


def test_an_online_geocoder_that_is_down_falls_back_to_the_shipped_data():
    locator = PostcodeLocator(geocoder_named("banfrance", domain="127.0.0.1:9", scheme="http", timeout=0.5))
    place = lookup_postcode("33000")
    assert locator.locate("33000") == (place.lat, place.lon)


def test_a_postcode_asked_during_an_outage_is_asked_again_once_it_is_over(ban_server):
    locator = PostcodeLocator(geocoder_named("banfrance", domain=ban_server, scheme="http"))
    down = PostcodeLocator(geocoder_named("banfrance", domain="127.0.0.1:9", scheme="http", timeout=0.5))
    locator._online = down._online  # the same locator, its geocoder away for one call
    place = lookup_postcode("69003")
    assert locator.locate("69003") == (place.lat, place.lon)
    locator._online = lru_cache(maxsize=16)(locator._ask_online)  # back
    assert locator.locate("69003") == (45.76, 4.85) and len(_BanLike.asked) == 1


def test_the_service_builds_its_locator_from_geocoder(monkeypatch):
    from geopy.geocoders import Nominatim

    from members.service import build

    monkeypatch.delenv("GEOCODER", raising=False)
    db = InMemoryDatabase(read_models)
    try:
        assert isinstance(build(db, {"SECRET_KEY": SECRET, "GEOCODER": "nominatim"}).postcodes.geocoder, Nominatim)
        assert isinstance(build(db, {"SECRET_KEY": SECRET}).postcodes.geocoder, OfflineGeocoder)
    finally:
        db.dispose()


def test_the_erasure_handler_leaves_only_a_tombstone():
    from types import SimpleNamespace

    from members.map import MapProjection, forget

    row = {"member_id": "m1", "display_name": "Anne Z.", "federation_code": "69", "cell_lat": 45.75,
           "cell_lon": 4.85, "verified": True, "map_visible": True, "visible": True, "version": 3}
    after = MapProjection().erased(row, SimpleNamespace(member_id="m1"), SimpleNamespace(position=9))
    assert after == forget("m1", 9)
    assert {k for k, v in after.items() if v not in ("", 0.0, False)} == {"member_id", "version"}
