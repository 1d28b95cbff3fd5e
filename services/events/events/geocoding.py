"""Where a meeting is: its commune, found through the geocoder `GEOCODER` chooses.

    GEOCODER=offline     (default) umpnet_geo.OfflineGeocoder: the shipped postcode data, no network
    GEOCODER=banfrance   geopy's BANFrance;  GEOCODER=nominatim   geopy's Nominatim

The same choices as the members service (`GEOCODER_DOMAIN`, `GEOCODER_SCHEME`
point an online one at another server). Only "postcode commune" is ever asked,
never the street address, and the answer is the commune's position: a meeting
held at someone's home does not put that home on the map. An online geocoder
that fails or finds nothing falls back to the shipped data, so publishing a
meeting never depends on a third party being up.
"""
from __future__ import annotations

import logging
from functools import lru_cache

from geopy.exc import GeopyError
from geopy.geocoders.base import Geocoder

from umpnet_geo import OfflineGeocoder, lookup_postcode, make_geocoder
from umpnet_geo.postcodes import Place

log = logging.getLogger(__name__)

ONLINE = ("banfrance", "nominatim")


def geocoder_named(name: str | None, domain: str | None = None, scheme: str | None = None,
                   timeout: float = 3.0) -> Geocoder:
    key = (name or "offline").strip().lower()
    if key == "offline":
        return OfflineGeocoder()
    if key not in ONLINE:
        raise ValueError(f"GEOCODER must be offline, {' or '.join(ONLINE)}, not {name!r}")
    options = {"timeout": timeout, **({"domain": domain} if domain else {}), **({"scheme": scheme} if scheme else {})}
    return make_geocoder(key, **options)


class CommuneLocator:
    """(place, lat, lon) of a meeting's postcode: None for a postcode France does not have."""

    def __init__(self, geocoder: Geocoder | None = None):
        self.geocoder = geocoder or OfflineGeocoder()
        self.offline = isinstance(self.geocoder, OfflineGeocoder)
        self._online = lru_cache(maxsize=4096)(self._ask)  # keeps no exception: an outage is asked again

    def locate(self, postcode: str) -> tuple[Place, float, float] | None:
        place = lookup_postcode(postcode)
        if place is None:
            return None
        if not self.offline:
            try:
                found = self._online(place.postcode, place.city)
            except GeopyError as error:
                log.warning("geocoder %s failed (%s): the shipped data answers", type(self.geocoder).__name__,
                            type(error).__name__)
            else:
                if found is not None:
                    return place, found[0], found[1]
        return place, place.lat, place.lon

    def _ask(self, postcode: str, city: str) -> tuple[float, float] | None:
        query = ({"postalcode": postcode, "country": "France"} if type(self.geocoder).__name__ == "Nominatim"
                 else f"{postcode} {city}")
        location = self.geocoder.geocode(query, exactly_one=True)
        return None if location is None else (location.latitude, location.longitude)
