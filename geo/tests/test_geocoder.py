import pytest
from geopy.geocoders import Nominatim
from geopy.geocoders.base import Geocoder
from geopy.location import Location

from umpnet_geo import OfflineGeocoder, coarsen, distance_km, make_geocoder


@pytest.fixture(scope="module")
def geocoder():
    return make_geocoder("offline")


def test_make_geocoder(geocoder):
    assert isinstance(geocoder, OfflineGeocoder) and isinstance(geocoder, Geocoder)
    # Building a web geocoder sends no request, so this stays offline.
    nominatim = make_geocoder("nominatim")
    assert isinstance(nominatim, Nominatim)
    assert nominatim.headers["User-Agent"] == "umpnet"


def test_finds_lyon_for_69001(geocoder):
    loc = geocoder.geocode("69001")
    assert isinstance(loc, Location)
    assert "Lyon" in loc.address
    assert loc.raw["departement_code"] == "69"
    assert distance_km(loc, (45.764, 4.8357)) < 3


@pytest.mark.parametrize(
    "query, city",
    [
        ("12 rue X 75011 Paris", "Paris 11"),
        ("75011", "Paris 11"),
        ("  12, rue Oberkampf, 75011 PARIS, France ", "Paris 11"),
        ("BP 1234 69002 Lyon", "Lyon 02"),
        ("69002 Lyon 99999", "Lyon 02"),  # last 5 digits unknown: earlier code used
        ("10 cours Napoléon 20000 Ajaccio", "Ajaccio"),
        ("F-20200 Bastia", "Bastia"),
        ({"postalcode": "97400"}, "Saint-Denis"),
    ],
)
def test_geocodes_queries_containing_a_postcode(geocoder, query, city):
    assert geocoder.geocode(query).raw["city"] == city


@pytest.mark.parametrize("query", ["", "Lyon", "rue de Rivoli", "7501", "98000 Monaco", "123456"])
def test_no_known_postcode_gives_none(geocoder, query):
    assert geocoder.geocode(query) is None


def test_exactly_one_false_returns_all_communes(geocoder):
    locs = geocoder.geocode("20167 Alata", exactly_one=False)
    assert len(locs) > 3 and all(isinstance(loc, Location) for loc in locs)
    assert "Alata" in {loc.raw["city"] for loc in locs}


def test_coarsening_geocoder():
    exact = OfflineGeocoder().geocode("75011")
    coarse = OfflineGeocoder(coarsen_km=2.0).geocode("75011")
    assert (coarse.latitude, coarse.longitude) == coarsen(exact.latitude, exact.longitude, 2.0)
    assert (coarse.latitude, coarse.longitude) != (exact.latitude, exact.longitude)
