"""Distances and privacy coarsening of coordinates."""
from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

from geopy.distance import geodesic

# Length of one degree of latitude (WGS84 mean, good to <1% everywhere).
_KM_PER_DEG_LAT = 111.32
# Near the poles a degree of longitude shrinks to nothing; clamp cos(lat) so
# the longitude step stays finite (irrelevant for France, keeps math safe).
_MIN_COS = 0.01


def coarsen(lat: float, lon: float, km: float = 2.0) -> tuple[float, float]:
    """Snap a point to the centre of its cell in a grid of ~km × km cells.

    Used before storing or showing a member's location, so that only the cell
    is known. The grid is fixed (anchored at 90°S, 180°W), so the result
    depends only on the input: the same point always gives the same cell, and
    coarsening an already-coarsened point returns it unchanged.

    Rows are ~``km`` high; within a row, cells are ~``km`` wide measured at
    the row's centre latitude, so they stay roughly square at any latitude.
    Steps are rounded so a whole number of them spans the globe (no odd cell
    at the poles or the antimeridian). The returned point is at most about
    0.71 × km from the input (half a cell's diagonal).
    """
    if not (km > 0 and math.isfinite(km)):
        raise ValueError(f"km must be a positive number, not {km!r}")
    if not (-90.0 <= lat <= 90.0 and math.isfinite(lon)):
        raise ValueError(f"not a coordinate: ({lat!r}, {lon!r})")

    rows = max(1, round(180.0 * _KM_PER_DEG_LAT / km))
    lat_step = 180.0 / rows
    # min() puts lat=90 (and float spill-over) into the last row.
    row = min(math.floor((lat + 90.0) / lat_step), rows - 1)
    # Cell centre = (index + 0.5) * step: re-snapping a centre finds the same
    # index, whatever tiny float error the arithmetic left behind.
    c_lat = -90.0 + (row + 0.5) * lat_step

    # Cell width from the row's *centre* latitude, so every point of a row
    # (the centre included) uses the same width: that makes it idempotent.
    cos_lat = max(math.cos(math.radians(c_lat)), _MIN_COS)
    cols = max(1, round(360.0 * _KM_PER_DEG_LAT * cos_lat / km))
    lon_step = 360.0 / cols
    lon = (lon + 180.0) % 360.0 - 180.0  # normalise to [-180, 180)
    col = min(math.floor((lon + 180.0) / lon_step), cols - 1)
    c_lon = -180.0 + (col + 0.5) * lon_step

    # 6 decimals (~0.1 m) keeps output tidy without moving a point out of its cell.
    return round(c_lat, 6), round(c_lon, 6)


def _as_point(p: Any) -> Any:
    # Accept our Place (and anything with .lat/.lon) besides what geopy
    # already takes: (lat, lon) tuples, geopy Point / Location, "lat, lon".
    if hasattr(p, "lat") and hasattr(p, "lon"):
        return (p.lat, p.lon)
    if hasattr(p, "point"):  # geopy.location.Location
        return p.point
    return p


def distance_km(a: Any, b: Any) -> float:
    """Geodesic (WGS84 ellipsoid) distance in km between two points.

    Points may be (lat, lon) tuples, geopy Points/Locations or Places.
    """
    a, b = _as_point(a), _as_point(b)
    if type(a) is tuple and type(b) is tuple and len(a) == len(b) == 2:
        return _pair_km(*a, *b)
    return geodesic(a, b).km


@lru_cache(maxsize=1 << 16)
def _pair_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The geodesic of two (lat, lon) tuples, remembered: positions repeat (a place is its
    postcode's or commune's centre, a search its postcode's), and geopy's geodesic costs
    ~70 µs, most of a list page of meetings near a postcode. The same value, by construction
    (geo/tests/test_coords.py, `test_distance_km_remembered_equals_geopy`)."""
    return geodesic((lat1, lon1), (lat2, lon2)).km


EARTH_MEAN_RADIUS_KM = 6371.0088


def haversine_km(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Great-circle distance in km between two (lat, lon) points on the mean sphere:
    within 0.5 % of `distance_km`'s geodesic and some 50× faster (a quick filter)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = math.sin((lat2 - lat1) / 2) ** 2 + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2
    return 2 * EARTH_MEAN_RADIUS_KM * math.asin(min(1.0, math.sqrt(h)))


def within_km(a: tuple[float, float], b: tuple[float, float], radius_km: float) -> float | None:
    """The distance from a to b if it is within `radius_km`, else None: haversine, and
    the geodesic where the two may disagree (within 0.5 % of the edge), so that the
    answer is the geodesic's at the cost of a haversine almost everywhere."""
    distance = haversine_km(a, b)
    if abs(distance - radius_km) <= radius_km * 0.005:
        distance = distance_km(a, b)
    return distance if distance <= radius_km else None


def bounding_box(lat: float, lon: float, radius_km: float) -> tuple[float, float, float, float]:
    """(south, north, west, east): a lat/lon box holding every point within `radius_km`
    (with a 1 % margin), for an index to narrow a search before the exact distance."""
    dlat = radius_km * 1.01 / 111.0
    dlon = radius_km * 1.01 / (111.32 * max(math.cos(math.radians(lat)), _MIN_COS))
    return lat - dlat, lat + dlat, lon - dlon, lon + dlon
