"""The map of activists: where members who chose to appear on it are, coarsely.

Position. A member's position is their commune's centre (from the shipped
postcode data, `umpnet_geo`) snapped to a grid of CELL_KM × CELL_KM cells
(`umpnet_geo.coarsen`): every member of a commune, and of any commune whose
centre falls in the same cell, has exactly the same position. It is computed
from the events (the postcode and commune of MemberRegistered and
ProfileUpdated), so it is deterministic and a rebuild gives the same rows;
never random jitter (averaging many draws would undo it), never an address.
The member's postcode is never sent to an online geocoder for this: the
positions come from the shipped data whatever `GEOCODER` says (`GEOCODER`
chooses who geocodes what people type into the map's search, `geocoding.py`).

Who appears. A member appears if their address is verified and they chose
`map_visible`. A cell that holds fewer than MIN_CELL_MEMBERS such members is
never shown as individuals: only as a count (`cells`), whatever the filter.

Read model `map_members`: one row per member, with what the map needs
(display name, federation, cell, whether they appear) and `version`, the store
position of the member's last event that the map handled. The service answers radius
and federation queries from `MapIndex`, an in-memory index of the members who
appear, kept in step with the table by reading the rows whose version is above
the highest it has seen (one indexed `max()` per query when nothing changed).
Forgetting a member (`forget`) leaves a tombstone row: the id and the version,
nothing else, so that every process's index learns that the member is gone.
"""
from __future__ import annotations

import math
import threading
from dataclasses import dataclass, field
from functools import lru_cache

from sqlalchemy import BigInteger, Boolean, Column, Float, Index, Integer, String, Table, bindparam, func, select

from umpnet_geo import coarsen, haversine_km, lookup_postcode_all
from umpnet_kernel.errors import ValidationFailed
from umpnet_kernel.paging import BadCursor, PageRequest, decode_cursor, encode_cursor
from umpnet_kernel.projections import KeyedProjection, handles

from .events import EmailVerified, MemberErased, MemberRegistered, ProfileUpdated
from .projections import display_name, read_models

CELL_KM = 2.0  # the grid: at least 1 km (issue 8); 2 km keeps rural cells above the threshold more often
MIN_CELL_MEMBERS = 5  # below: a count, never individuals
MAX_RADIUS_KM = 100.0
DEFAULT_RADIUS_KM = 20.0
MAX_CELLS = 2000  # small cells returned as counts, at most (nearest first)
DEFAULT_PAGE = 200

map_members = Table(
    "map_members",
    read_models,
    Column("member_id", String(36), primary_key=True),
    Column("display_name", String(110), nullable=False),
    Column("federation_code", String(10), nullable=False),
    Column("cell_lat", Float, nullable=False),
    Column("cell_lon", Float, nullable=False),
    Column("verified", Boolean, nullable=False),
    Column("map_visible", Boolean, nullable=False),
    Column("visible", Boolean, nullable=False),  # verified and map_visible: on the map
    Column("version", BigInteger().with_variant(Integer, "sqlite"), nullable=False),
)
Index("ix_map_members_version", map_members.c.version)


@lru_cache(maxsize=65536)  # pure, and ~52,000 (postcode, commune) pairs exist: rebuilds and seeding ask often
def cell_of(postcode: str, city: str) -> tuple[float, float]:
    """The snapped position of a commune: its centre's cell (CELL_KM grid). (0, 0) if unknown."""
    places = lookup_postcode_all(postcode)
    place = next((p for p in places if p.city == city), places[0] if places else None)
    if place is None:
        return 0.0, 0.0
    return coarsen(place.lat, place.lon, CELL_KM)


def _shown(row: dict) -> dict:
    return {**row, "visible": bool(row["verified"] and row["map_visible"])}


def forget(member_id: str, position: int) -> dict:
    """The row of a member who asked to be forgotten: a tombstone, the id and the version only.

    The one place the map forgets a member (`members.MemberErased`): every
    index sees a row whose version moved and whose member no longer appears."""
    return {"member_id": member_id, "display_name": "", "federation_code": "", "cell_lat": 0.0, "cell_lon": 0.0,
            "verified": False, "map_visible": False, "visible": False, "version": position}


class MapProjection(KeyedProjection):
    name = "map_members"
    table = map_members
    key_column = "member_id"

    @handles(MemberRegistered)
    def registered(self, row, e: MemberRegistered, recorded):
        lat, lon = cell_of(e.postcode, e.city)
        return _shown({"member_id": e.member_id, "display_name": display_name(e.__dict__),
                       "federation_code": e.federation_code, "cell_lat": lat, "cell_lon": lon,
                       "verified": False, "map_visible": False, "version": recorded.position})

    # `version`: the position of the member's last event handled here (changed the row or not),
    # so that migration 0006 could fill the table from the events table with one GROUP BY.
    @handles(EmailVerified)
    def verified(self, row, e, recorded):
        if row is None:
            return row
        return _shown({**row, "verified": True, "version": recorded.position})

    @handles(ProfileUpdated)
    def profile_updated(self, row, e: ProfileUpdated, recorded):
        if row is None:
            return row
        lat, lon = cell_of(e.postcode, e.city)
        return _shown({**row, "display_name": display_name(e.__dict__), "federation_code": e.federation_code,
                       "cell_lat": lat, "cell_lon": lon, "map_visible": bool(e.map_visible),
                       "version": recorded.position})

    # Not a forgetting.py forgetter (a DELETE): the in-memory index follows the
    # table by version, so the erased member's row becomes a tombstone instead.
    @handles(MemberErased)
    def erased(self, row, e, recorded):
        return forget(e.member_id, recorded.position)


# -- the in-memory index ------------------------------------------------------------
BUCKET_DEG = 0.25  # cells are grouped into 0.25° tiles to find those near a point quickly


@dataclass
class Cell:
    key: str
    lat: float
    lon: float
    members: dict = field(default_factory=dict)  # member_id -> (display_name, federation_code)
    federations: dict = field(default_factory=dict)  # federation_code -> how many of `members`
    _sorted: list | None = None

    def sorted_members(self) -> list:
        if self._sorted is None:
            self._sorted = sorted(self.members.items())
        return self._sorted


def cell_key(lat: float, lon: float) -> str:
    return f"{lat:.6f},{lon:.6f}"


LATEST_VERSION = select(func.max(map_members.c.version))
ROWS_SINCE = select(map_members.c.member_id, map_members.c.display_name, map_members.c.federation_code,
                    map_members.c.cell_lat, map_members.c.cell_lon, map_members.c.visible,
                    map_members.c.version).where(map_members.c.version > bindparam("after"))
VISIBLE_ROWS = select(map_members.c.member_id, map_members.c.display_name, map_members.c.federation_code,
                      map_members.c.cell_lat, map_members.c.cell_lon).where(map_members.c.visible)


class MapIndex:
    """The members who appear on the map, by cell, in memory (one per service process)."""

    def __init__(self):
        self.cells: dict[str, Cell] = {}
        self.buckets: dict[tuple[int, int], set[str]] = {}
        self.where: dict[str, str] = {}  # member_id -> cell key
        self.version: int | None = None  # highest row version seen; None: never loaded
        self.federation_cells: dict[str, set[str]] = {}  # federation -> keys of the cells holding its members
        self._by_federation: dict[str, list] = {}  # federation -> its cells in key order, until that changes
        self._lock = threading.Lock()

    # -- keeping up with the table --
    def refresh(self, conn) -> None:
        latest = conn.execute(LATEST_VERSION).scalar() or 0
        if self.version is not None and latest == self.version:
            return
        with self._lock:
            if self.version is None or latest < self.version:  # first use, or the table was remade
                self._load(conn, latest)
            elif latest > self.version:
                for r in conn.execute(ROWS_SINCE, {"after": self.version}):
                    if r.visible:
                        self._put(r.member_id, r.display_name, r.federation_code, r.cell_lat, r.cell_lon)
                    else:
                        self._drop(r.member_id)
                    self.version = max(self.version, r.version)

    def _load(self, conn, latest: int) -> None:
        self.cells, self.buckets, self.where = {}, {}, {}
        self.federation_cells, self._by_federation = {}, {}
        for r in conn.execute(VISIBLE_ROWS):
            self._put(r.member_id, r.display_name, r.federation_code, r.cell_lat, r.cell_lon)
        self.version = latest

    def _put(self, member_id, name, federation, lat, lon) -> None:
        key = cell_key(lat, lon)
        if self.where.get(member_id, key) != key:
            self._drop(member_id)
        cell = self.cells.get(key)
        if cell is None:
            cell = self.cells[key] = Cell(key, lat, lon)
            self.buckets.setdefault(_bucket(lat, lon), set()).add(key)
        previous = cell.members.get(member_id)
        if previous is not None:
            self._uncount(cell, previous[1])
        cell.members[member_id] = (name, federation)
        cell._sorted = None
        if cell.federations.get(federation, 0) == 0:
            self.federation_cells.setdefault(federation, set()).add(key)
            self._by_federation.pop(federation, None)
        cell.federations[federation] = cell.federations.get(federation, 0) + 1
        self.where[member_id] = key

    def _drop(self, member_id) -> None:
        key = self.where.pop(member_id, None)
        if key is None:
            return
        cell = self.cells[key]
        previous = cell.members.pop(member_id, None)
        if previous is not None:
            self._uncount(cell, previous[1])
        cell._sorted = None
        if not cell.members:
            del self.cells[key]
            bucket = self.buckets[_bucket(cell.lat, cell.lon)]
            bucket.discard(key)

    def _uncount(self, cell: Cell, federation: str) -> None:
        left = cell.federations.get(federation, 0) - 1
        if left > 0:
            cell.federations[federation] = left
            return
        cell.federations.pop(federation, None)
        self.federation_cells.get(federation, set()).discard(cell.key)
        self._by_federation.pop(federation, None)

    # -- queries --
    def near(self, lat: float, lon: float, radius_km: float) -> list[tuple[float, Cell]]:
        """(distance, cell) of the cells whose centre is within radius_km, nearest first."""
        dlat = radius_km / 111.0 + BUCKET_DEG
        dlon = radius_km / (111.0 * max(math.cos(math.radians(min(abs(lat) + dlat, 89.0))), 0.01)) + BUCKET_DEG
        found = []
        for i in range(math.floor((lat - dlat) / BUCKET_DEG), math.floor((lat + dlat) / BUCKET_DEG) + 1):
            for j in range(math.floor((lon - dlon) / BUCKET_DEG), math.floor((lon + dlon) / BUCKET_DEG) + 1):
                for key in self.buckets.get((i, j), ()):
                    cell = self.cells[key]
                    d = haversine_km((lat, lon), (cell.lat, cell.lon))
                    if d <= radius_km:
                        found.append((d, cell))
        # The order the paging cursor walks: whole metres, then the cell's key. Sorting by
        # the exact distance instead would let two cells that round to the same metre come
        # in the other order than the cursor compares them, and a page would skip one.
        found.sort(key=lambda dc: (int(dc[0] * 1000), dc[1].key))
        return found

    def of_federation(self, federation: str) -> list[tuple[float, Cell]]:
        """(0, cell) of the cells holding members of this federation, in key order."""
        found = self._by_federation.get(federation)
        if found is None:
            keys = sorted(self.federation_cells.get(federation, ()))
            found = self._by_federation[federation] = [(0.0, self.cells[k]) for k in keys]
        return found

    def member_count(self) -> int:
        return len(self.where)


def _bucket(lat: float, lon: float) -> tuple[int, int]:
    return math.floor(lat / BUCKET_DEG), math.floor(lon / BUCKET_DEG)


@dataclass(frozen=True)
class MapQuery:
    """Where to look: around (lat, lon) within radius_km, or a federation's members (federation set)."""

    lat: float | None = None
    lon: float | None = None
    radius_km: float = DEFAULT_RADIUS_KM
    federation: str | None = None


def search(index: MapIndex, query: MapQuery, page: PageRequest) -> dict:
    """One page of the map (API.md `GET /api/map/members`):

    `items`: members of cells holding at least MIN_CELL_MEMBERS members who appear,
    each at their cell's position, nearest cell first (then by cell, then member id);
    `cells`: on the first page, the smaller cells as counts only, nearest first, at
    most MAX_CELLS; `next_cursor`: the next page of items, or None.
    A federation filter keeps its members only, but a cell's size counts everyone
    in it: a federation's two members in a crowded cell are shown, one member alone
    in a cell is only ever a count."""
    if query.federation is not None:
        candidates = index.of_federation(query.federation)
        wanted = query.federation
    else:
        candidates = index.near(query.lat, query.lon, query.radius_km)
        wanted = None
    after = None
    if page.cursor is not None:
        after = decode_cursor(page.cursor)
        if len(after) != 3 or not isinstance(after[0], int) or not all(isinstance(v, str) for v in after[1:]):
            raise BadCursor()
        after = (after[0], after[1], after[2])
    items: list[dict] = []
    small: list[dict] = []
    next_cursor = None
    for distance, cell in candidates:
        metres = int(distance * 1000)
        crowded = len(cell.members) >= MIN_CELL_MEMBERS
        if not crowded:
            if page.cursor is None and len(small) < MAX_CELLS:
                count = len(cell.members) if wanted is None else sum(1 for _, f in cell.members.values() if f == wanted)
                if count:
                    small.append({"lat": cell.lat, "lon": cell.lon, "count": count})
            continue
        if next_cursor is not None:
            continue
        if after is not None and (metres, cell.key) < (after[0], after[1]):
            continue
        for member_id, (name, federation) in cell.sorted_members():
            if wanted is not None and federation != wanted:
                continue
            if after is not None and (metres, cell.key) == (after[0], after[1]) and member_id <= after[2]:
                continue
            if len(items) == page.limit:
                last = items[-1]
                next_cursor = encode_cursor([last.pop("_m"), last.pop("_k"), last["member_id"]])
                break
            items.append({"member_id": member_id, "display_name": name, "lat": cell.lat, "lon": cell.lon,
                          "_m": metres, "_k": cell.key})
        if next_cursor is not None and page.cursor is not None:
            break  # later pages carry no cells: nothing else to look at
    for item in items:
        item.pop("_m", None)
        item.pop("_k", None)
    return {"items": items, "cells": small, "next_cursor": next_cursor}


def check_query(lat=None, lon=None, radius_km=None, federation=None) -> MapQuery:
    """The service's own check of a query (the gateway checks first, with French messages)."""
    fields: dict[str, list[str]] = {}
    radius = DEFAULT_RADIUS_KM if radius_km is None else radius_km
    if not isinstance(radius, (int, float)) or isinstance(radius, bool) or not 0 < radius <= MAX_RADIUS_KM:
        fields["radius_km"] = [f"Un rayon de plus de 0 et d’au plus {MAX_RADIUS_KM:g} km."]
    if federation is None:
        if not isinstance(lat, (int, float)) or isinstance(lat, bool) or not -90 <= lat <= 90:
            fields["lat"] = ["Une latitude entre -90 et 90."]
        if not isinstance(lon, (int, float)) or isinstance(lon, bool) or not -180 <= lon <= 180:
            fields["lon"] = ["Une longitude entre -180 et 180."]
    if fields:
        raise ValidationFailed("Recherche invalide.", fields)
    if federation is not None:
        return MapQuery(federation=federation)
    return MapQuery(float(lat), float(lon), float(radius))
