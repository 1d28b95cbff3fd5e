import math
import random

import pytest

from umpnet_geo import coarsen, distance_km, lookup_postcode

PARIS = (48.8566, 2.3522)  # Hôtel de Ville
LYON = (45.7640, 4.8357)  # Place Bellecour area


def test_paris_lyon_distance():
    assert distance_km(PARIS, LYON) == pytest.approx(392, abs=3)
    assert distance_km(PARIS, LYON) == pytest.approx(distance_km(LYON, PARIS))
    assert distance_km(PARIS, PARIS) == 0


def test_distance_accepts_places_and_locations():
    from umpnet_geo import OfflineGeocoder

    lyon_place = lookup_postcode("69002")
    lyon_loc = OfflineGeocoder().geocode("69002")
    assert distance_km(lyon_place, lyon_loc) == pytest.approx(0, abs=1e-6)
    assert distance_km(lookup_postcode("75004"), lyon_place) == pytest.approx(392, abs=5)


def _points(n=2000, seed=7):
    rnd = random.Random(seed)  # fixed seed: deterministic test
    return [(rnd.uniform(41.3, 51.1), rnd.uniform(-5.2, 9.6)) for _ in range(n)]


@pytest.mark.parametrize("km", [0.5, 2.0, 10.0])
def test_coarsen_moves_points_onto_a_grid(km):
    rows = set()
    for lat, lon in _points():
        c = coarsen(lat, lon, km)
        assert c != (lat, lon)
        # Close to the original: at most half a cell's diagonal (+1% slack).
        assert distance_km((lat, lon), c) <= km * math.sqrt(2) / 2 * 1.01
        rows.add(c[0])
    # Snapped latitudes sit on a lattice whose step is ~km.
    rows = sorted(rows)
    step = min(b - a for a, b in zip(rows, rows[1:]))
    assert step * 111.32 == pytest.approx(km, rel=0.01)
    for a, b in zip(rows, rows[1:]):  # rows are whole numbers of steps apart
        n = (b - a) / step
        assert n == pytest.approx(round(n), abs=0.01)


@pytest.mark.parametrize("km", [1.0, 2.0, 5.0])
def test_coarsen_collapses_a_neighbourhood_into_few_cells(km):
    # 1000 homes in a 10 km x 10 km square in Paris (0.09 deg lat ~ 10 km,
    # 0.1365 deg lon ~ 10 km at 48.85 N).
    rnd = random.Random(3)
    homes = [(48.80 + rnd.random() * 0.09, 2.28 + rnd.random() * 0.1365) for _ in range(1000)]
    cells = {coarsen(lat, lon, km) for lat, lon in homes}
    per_side = 10 / km
    assert per_side**2 * 0.8 <= len(cells) <= (per_side + 2) ** 2


def test_coarsen_actually_moves_a_point_and_nearby_points_collapse():
    home = (48.85741, 2.37952)
    c = coarsen(*home)
    assert c != home and distance_km(home, c) < 1.42
    # Other points ~100 m from the cell centre land in the same cell.
    for d_lat, d_lon in ((0.001, 0.001), (-0.001, -0.001), (0.001, -0.001)):
        assert coarsen(c[0] + d_lat, c[1] + d_lon) == c


def test_coarsen_is_idempotent_and_deterministic():
    for km in (0.3, 1.0, 2.0, 5.0, 25.0):
        for lat, lon in _points(500) + [(-21.0, 55.5), (89.999, 179.999), (-90, -180), (0, 0)]:
            c = coarsen(lat, lon, km)
            assert coarsen(*c, km) == c
            assert coarsen(lat, lon, km) == c


def test_coarsen_rejects_nonsense():
    with pytest.raises(ValueError):
        coarsen(48.8, 2.3, km=0)
    with pytest.raises(ValueError):
        coarsen(91, 2.3)
    with pytest.raises(ValueError):
        coarsen(48.8, float("nan"))


def test_haversine_is_the_geodesic_within_half_a_percent():
    from umpnet_geo import haversine_km

    assert haversine_km(PARIS, LYON) == pytest.approx(distance_km(PARIS, LYON), rel=0.005)
    assert haversine_km(PARIS, LYON) == pytest.approx(haversine_km(LYON, PARIS))
    assert haversine_km(PARIS, PARIS) == 0


def test_within_km_decides_as_the_geodesic_does_and_the_box_holds_the_circle():
    from umpnet_geo import bounding_box, distance_km, within_km

    lyon = (45.7640, 4.8357)
    south, north, west, east = bounding_box(*lyon, 30)
    for bearing_point in [(45.7640 + d, 4.8357 + e) for d in (-0.4, -0.27, 0, 0.27, 0.4) for e in (-0.5, -0.39, 0, 0.39, 0.5)]:
        geodesic = distance_km(lyon, bearing_point)
        found = within_km(lyon, bearing_point, 30)
        assert (found is not None) == (geodesic <= 30)
        if geodesic <= 30:
            assert south <= bearing_point[0] <= north and west <= bearing_point[1] <= east
    edge = (45.7640 + 30 / 111.13, 4.8357)  # about 30 km north: decided by the geodesic
    assert (within_km(lyon, edge, distance_km(lyon, edge)) is not None)
    assert within_km(lyon, edge, distance_km(lyon, edge) - 0.01) is None


def test_distance_km_remembered_equals_geopy():
    """The remembered pair distance is geopy's geodesic, the first time and every time after."""
    import random

    from geopy.distance import geodesic

    from umpnet_geo.coords import _pair_km

    rng = random.Random(7)
    pairs = [((rng.uniform(41, 51), rng.uniform(-5, 9)), (rng.uniform(41, 51), rng.uniform(-5, 9)))
             for _ in range(200)]
    for a, b in pairs + pairs:  # the second round is served from memory
        assert distance_km(a, b) == geodesic(a, b).km
    assert _pair_km.cache_info().hits >= len(pairs)
    with pytest.raises(ValueError):
        distance_km((95.0, 2.0), (48.0, 2.0))  # a latitude geopy refuses is refused the same
