"""A geopy geocoder that answers from the shipped postcode table, offline.

It plugs in wherever the project takes a geopy geocoder (same ``geocode()``
call, same ``Location`` results), so tests and development never hit a web
service, and production can switch with ``make_geocoder("nominatim")``.
"""
from __future__ import annotations

from typing import Any

from geopy.geocoders import get_geocoder_for_service
from geopy.geocoders.base import Geocoder
from geopy.location import Location

from .coords import coarsen
from .postcodes import Place, lookup_postcode_all, postcodes_in_text

USER_AGENT = "umpnet"


class OfflineGeocoder(Geocoder):
    """Geocode queries that contain a French postcode, without any network.

    ``"12 rue X 75011 Paris"``, ``"75011"`` or ``{"postalcode": "75011"}``
    all resolve to the commune (here the arrondissement) for 75011. Street and
    number are ignored: the precision is the commune's, never the address's.
    Queries without a known postcode give None.

    ``coarsen_km``: if set, results are snapped to that grid (see
    ``umpnet_geo.coarsen``) before they are returned.
    """

    def __init__(self, *, coarsen_km: float | None = None, **kwargs: Any) -> None:
        # The base class only sets up an HTTP adapter (no request is made);
        # subclassing keeps us an isinstance(…, Geocoder) like any other.
        kwargs.setdefault("user_agent", USER_AGENT)
        super().__init__(**kwargs)
        self.coarsen_km = coarsen_km

    def geocode(
        self,
        query: str | dict[str, str],
        *,
        exactly_one: bool = True,
        timeout: Any = None,  # accepted for geopy API compatibility; unused
        **_ignored: Any,
    ) -> Location | list[Location] | None:
        places = self._places(query)
        if not places:
            return None
        locations = [self._location(p) for p in places]
        return locations[0] if exactly_one else locations

    def _places(self, query: str | dict[str, str]) -> tuple[Place, ...]:
        if isinstance(query, dict):  # geopy's "structured query" form
            query = str(query.get("postalcode", ""))
        # In "12 rue X 75011 Paris" the postcode comes after the house number,
        # and in "BP 10001 75011 Paris" after a P.O. box: the last known code wins.
        for candidate in reversed(postcodes_in_text(query)):
            places = lookup_postcode_all(candidate)
            if places:
                return places
        return ()

    def _location(self, place: Place) -> Location:
        lat, lon = place.lat, place.lon
        if self.coarsen_km is not None:
            lat, lon = coarsen(lat, lon, self.coarsen_km)
        raw = {
            "postcode": place.postcode,
            "city": place.city,
            "departement_code": place.departement_code,
            "lat": lat,
            "lon": lon,
        }
        return Location(f"{place.postcode} {place.city}, France", (lat, lon), raw)


def make_geocoder(name: str, **kwargs: Any) -> Geocoder:
    """The geocoder for a service name: ``"offline"`` or any geopy service.

    Other names go to geopy (``"nominatim"``, ``"photon"``, …) with
    ``user_agent="umpnet"``; extra keyword arguments (api_key=…, domain=…)
    are passed on. Unknown names raise geopy.exc.GeocoderNotFound.
    """
    if name.lower() == "offline":
        return OfflineGeocoder(**kwargs)
    kwargs.setdefault("user_agent", USER_AGENT)
    return get_geocoder_for_service(name)(**kwargs)
