"""Offline French geography for UMPnet: départements, postcodes, distances."""
from .coords import bounding_box, coarsen, distance_km, haversine_km, within_km
from .departements import (
    DEPARTEMENTS,
    DEPARTEMENTS_BY_CODE,
    DIGITAL_FEDERATION,
    Departement,
    departement_for_postcode,
    get_departement,
)
from .geocoder import OfflineGeocoder, make_geocoder
from .postcodes import Place, all_postcodes, lookup_postcode, lookup_postcode_all, postcodes_in_text

__all__ = [
    "DEPARTEMENTS",
    "DEPARTEMENTS_BY_CODE",
    "DIGITAL_FEDERATION",
    "Departement",
    "OfflineGeocoder",
    "Place",
    "all_postcodes",
    "bounding_box",
    "coarsen",
    "departement_for_postcode",
    "distance_km",
    "get_departement",
    "haversine_km",
    "lookup_postcode",
    "lookup_postcode_all",
    "make_geocoder",
    "postcodes_in_text",
    "within_km",
]
