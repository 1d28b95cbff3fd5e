import pytest

from umpnet_geo import Place, departement_for_postcode, distance_km, lookup_postcode, lookup_postcode_all
from umpnet_geo.postcodes import _table


def test_lyon_first_arrondissement():
    p = lookup_postcode("69001")
    assert p.postcode == "69001" and p.departement_code == "69"
    assert p.city.startswith("Lyon")
    assert distance_km(p, (45.767, 4.834)) < 2  # Lyon 1er, Terreaux


@pytest.mark.parametrize("arr", range(1, 21))
def test_paris_arrondissements_are_distinct_places_in_paris(arr):
    code = f"750{arr:02d}"
    p = lookup_postcode(code)
    assert p.city == f"Paris {arr:02d}" and p.departement_code == "75"
    assert distance_km(p, (48.8566, 2.3522)) < 7  # within Paris


def test_paris_16_second_postcode_and_arrondissements_differ():
    assert lookup_postcode("75116").city == "Paris 16"
    assert distance_km(lookup_postcode("75001"), lookup_postcode("75020")) > 3


@pytest.mark.parametrize(
    "postcode, city, dep",
    [
        ("20000", "Ajaccio", "2A"),
        ("20200", "Bastia", "2B"),
        ("20600", "Bastia", "2B"),
        ("97400", "Saint-Denis", "974"),
        ("97200", "Fort-de-France", "972"),
        ("97300", "Cayenne", "973"),
        ("97600", None, "976"),
        ("97001", "Les Abymes", "971"),  # Guadeloupe CEDEX code
    ],
)
def test_corsica_and_overseas(postcode, city, dep):
    p = lookup_postcode(postcode)
    assert p.departement_code == dep
    if city:
        assert city in [q.city for q in lookup_postcode_all(postcode)]


def test_overseas_coordinates_are_overseas():
    reunion = lookup_postcode("97400")
    assert -21.5 < reunion.lat < -20.8 and 55.2 < reunion.lon < 55.9
    guyane = lookup_postcode("97300")
    assert 3 < guyane.lat < 6 and -55 < guyane.lon < -51


def test_shared_postcode_lists_every_commune():
    communes = {p.city for p in lookup_postcode_all("20167")}
    assert {"Ajaccio", "Alata", "Afa"} <= communes
    assert all(p.departement_code == "2A" for p in lookup_postcode_all("20167"))


@pytest.mark.parametrize("bad", ["", "7501", "75O11", "97500", "98000", "00000", None, 69001])
def test_unknown_or_invalid_postcodes(bad):
    assert lookup_postcode(bad) is None
    assert lookup_postcode_all(bad) == ()


def test_whole_table_is_consistent():
    table = _table()
    assert len(table) > 20_000
    deps = set()
    for code, places in table.items():
        for p in places:
            assert isinstance(p, Place) and p.postcode == code
            assert p.departement_code == departement_for_postcode(code)
            deps.add(p.departement_code)
            # Inside metropolitan France's or an overseas département's box.
            assert (41 < p.lat < 51.2 and -5.3 < p.lon < 9.7) or code.startswith("97")
    assert len(deps) == 101  # every département has postcodes
