"""The JSON API of talents (API.md "Members and network", issue 8 item 7): each
member's engagement score, kept by the members service (members/talents.py).

Who may read which ranking is the members service's rule (a federation admin their
federation's, a national admin any or all, nobody else): the gateway hands it the
caller's session and the query.
"""
from __future__ import annotations

from marshmallow import Schema, fields

from umpnet_kernel.errors import ValidationFailed

from ..auth import require_actor
from ..http import api, json_response
from ..openapi import documented
from ..schemas import list_of
from .lists import paged

FEDERATION_MAX = 20  # a federation code is "69", "2A", "numerique"


class Talent(Schema):
    member_id = fields.String()
    display_name = fields.String()
    score = fields.Float(metadata={"description": "points, each halved every 90 days since it was earned"})
    breakdown = fields.Dict(keys=fields.String(), values=fields.Float(),
                            metadata={"description": "the score per source: contacts, profile, blog…"})


TalentList = list_of(Talent)


def federation_of(request) -> str | None:
    """`?federation=`: a federation code, or None (the admin's own, or everyone's)."""
    federation = request.args.get("federation", "").strip()
    if len(federation) > FEDERATION_MAX:
        raise ValidationFailed("Fédération inconnue.", {"federation": ["Fédération inconnue."]})
    return federation or None


class TalentsApi:
    """Mixed into the gateway service: `self.services` calls the services."""

    @api("GET", "/api/talents")
    @documented("The members ranked by engagement score, best first (federation and national admins): "
                "?federation= a federation code; a federation admin sees only their own",
                responses={200: TalentList}, auth=True, query={"federation": "string"})
    def talents(self, request):
        actor, _ = require_actor(self.services, request)
        federation = federation_of(request)
        return json_response(paged(self.services, request, "members", "list_talents", actor, federation))
