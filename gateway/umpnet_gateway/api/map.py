"""The JSON API of the map of activists (API.md `GET /api/map/members`), kept by the members service.

Member-only. One of three searches, chosen by the query string:

    ?lat=45.76&lon=4.83&radius_km=20     around a point (radius_km: more than 0, at most 100; default 20)
    ?postcode=69003&radius_km=20         around a postcode (GEOCODER finds it; offline by default)
    ?federation=69                       a local federation's members

and `?limit` (default 200, at most 500) and `?cursor` as every list. The answer:
`items[{member_id, display_name, lat, lon}]`, members of cells holding at least 5
members who appear, each at their cell's centre; and, as an extension of
API.md, on the first page `cells[{lat, lon, count}]`, the smaller cells as counts
only; `next_cursor` for the next page of items. Positions are a commune's centre
snapped to a 2 km grid (services/members/members/map.py), never an address.
"""
from __future__ import annotations

import math
import re

from marshmallow import Schema, fields

from umpnet_kernel.errors import ValidationFailed

from ..auth import require_actor
from ..http import api, json_response
from ..openapi import documented
from ..schemas import list_of
from .lists import paged

MAX_RADIUS_KM = 100
DEFAULT_RADIUS_KM = 20
DEFAULT_PAGE = 200
_POSTCODE = re.compile(r"^\d{5}$")
_FEDERATION = re.compile(r"^[0-9A-Za-z]{1,10}$")
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)$")  # plain decimals: no "nan", "inf", "1e3", spaces


class MapMember(Schema):
    member_id = fields.String()
    display_name = fields.String(metadata={"description": "first name and initial"})
    lat = fields.Float(metadata={"description": "the centre of the member's 2 km cell, never an address"})
    lon = fields.Float()


class MapCell(Schema):
    lat = fields.Float()
    lon = fields.Float()
    count = fields.Integer(metadata={"description": "members of a cell too small to show them (fewer than 5)"})


MapMemberList = type("MapMemberList", (list_of(MapMember),), {
    "cells": fields.List(fields.Nested(MapCell), metadata={"description": "first page only: the small cells, as counts"}),
})

MAP_QUERY = {"lat": "number", "lon": "number", "radius_km": "number", "postcode": "string", "federation": "string"}


def _given(args, name) -> bool:
    """A parameter with a value: `?lat=&lon=` (an empty form's) is as absent."""
    return bool((args.get(name) or "").strip())


def _number(args, name, low, high, fields_, message, low_open=False):
    if not _given(args, name):
        return None
    text = args.get(name)
    value = float(text) if _NUMBER.match(text.strip()) and len(text) <= 30 else math.nan
    if math.isnan(value) or value > high or value < low or (low_open and value == low):
        fields_[name] = [message]
        return None
    return value


def map_query(args) -> dict:
    """The search a query string asks for, as the members service takes it; 400 with each field's message."""
    problems: dict[str, list[str]] = {}
    given = {name for name in MAP_QUERY if _given(args, name)}
    point, postcode, federation = {"lat", "lon"} & given, "postcode" in given, "federation" in given
    if (bool(point) + postcode + federation) != 1:
        message = "Indiquez un point (lat et lon), un code postal ou une fédération."
        raise ValidationFailed(message, {"query": [message]})
    radius = _number(args, "radius_km", 0, MAX_RADIUS_KM, problems,
                     f"Un rayon en kilomètres, plus de 0 et au plus {MAX_RADIUS_KM}.", low_open=True)
    query: dict = {"radius_km": DEFAULT_RADIUS_KM if radius is None else radius}
    if point:
        query["lat"] = _number(args, "lat", -90, 90, problems, "Une latitude entre -90 et 90.")
        query["lon"] = _number(args, "lon", -180, 180, problems, "Une longitude entre -180 et 180.")
        for name in ("lat", "lon"):
            if name not in given:
                problems[name] = ["Ce champ est obligatoire avec " + ("lon." if name == "lat" else "lat.")]
    elif postcode:
        query["postcode"] = args["postcode"].strip()
        if not _POSTCODE.match(query["postcode"]):
            problems["postcode"] = ["Cinq chiffres, par exemple 75011."]
    else:
        query = {"federation": args["federation"].strip()}
        if not _FEDERATION.match(query["federation"]):
            problems["federation"] = ["Fédération inconnue."]
    if problems:
        raise ValidationFailed("Recherche invalide.", problems)
    return query


class MapApi:
    """Mixed into the gateway service: `self.services` calls the services."""

    @api("GET", "/api/map/members")
    @documented("Members who chose to appear on the map, around a point or a postcode, or of a federation",
                responses={200: MapMemberList}, auth=True, query=MAP_QUERY)
    def map_members(self, request):
        require_actor(self.services, request)
        query = map_query(request.args)
        return json_response(paged(self.services, request, "members", "map_members", query, default_limit=DEFAULT_PAGE))
