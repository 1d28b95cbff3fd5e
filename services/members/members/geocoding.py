"""Which geocoder finds the place people type into the map's search: `GEOCODER`.

    GEOCODER=offline     (default) umpnet_geo.OfflineGeocoder: the shipped postcode data, no network
    GEOCODER=banfrance   geopy's BANFrance (the French national address base)
    GEOCODER=nominatim   geopy's Nominatim (OpenStreetMap)

All three are geopy geocoders (`geocode(query)` → `Location`), with the user
agent "umpnet". `GEOCODER_DOMAIN` and `GEOCODER_SCHEME` point an online one at
another server (a self-hosted BAN or Nominatim). An online geocoder that fails
or finds nothing falls back to the offline one, so a search by postcode never
depends on a third party being up.

Members' own positions never go through here: they come from the shipped data
(members/map.py), so no member's postcode is ever sent to a third party.
"""
from __future__ import annotations

import logging
from functools import lru_cache

from geopy.exc import GeopyError
from geopy.geocoders.base import Geocoder

from umpnet_geo import OfflineGeocoder, lookup_postcode, make_geocoder

log = logging.getLogger(__name__)

GEOCODERS = {"offline": "offline", "banfrance": "banfrance", "nominatim": "nominatim"}
USER_AGENT = "umpnet"


def geocoder_named(name: str | None, domain: str | None = None, scheme: str | None = None,
                   timeout: float = 3.0) -> Geocoder:
    """The geocoder `GEOCODER` names (empty: offline); ValueError for a name not listed above."""
    key = (name or "offline").strip().lower()
    if key not in GEOCODERS:
        raise ValueError(f"GEOCODER must be one of {', '.join(GEOCODERS)}, not {name!r}")
    if key == "offline":
        return OfflineGeocoder()
    options = {"user_agent": USER_AGENT, "timeout": timeout}
    if domain:
        options["domain"] = domain
    if scheme:
        options["scheme"] = scheme
    return make_geocoder(GEOCODERS[key], **options)


class PostcodeLocator:
    """(lat, lon) of a French postcode, through the chosen geocoder, remembered."""

    def __init__(self, geocoder: Geocoder | None = None):
        self.geocoder = geocoder or OfflineGeocoder()
        self.offline = isinstance(self.geocoder, OfflineGeocoder)
        # Only the online geocoder's answers are remembered: lru_cache keeps no
        # exception, so a postcode asked during an outage is asked again later.
        self._online = lru_cache(maxsize=4096)(self._ask_online)

    def locate(self, postcode: str) -> tuple[float, float] | None:
        place = lookup_postcode(postcode)
        if place is None:
            return None  # not a French postcode we know: no need to ask anyone
        if not self.offline:
            try:
                found = self._online(place.postcode, place.city)
            except GeopyError as error:
                log.warning("geocoder %s failed (%s): the offline data answers", type(self.geocoder).__name__,
                            type(error).__name__)
            else:
                if found is not None:
                    return found
        return place.lat, place.lon

    def _ask_online(self, postcode: str, city: str) -> tuple[float, float] | None:
        location = self.geocoder.geocode(self._query(postcode, city), exactly_one=True)
        return None if location is None else (location.latitude, location.longitude)

    def _query(self, postcode: str, city: str):
        if type(self.geocoder).__name__ == "Nominatim":
            return {"postalcode": postcode, "country": "France"}
        return f"{postcode} {city}"
