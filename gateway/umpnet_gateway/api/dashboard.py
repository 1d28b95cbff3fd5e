"""A member's dashboard (API.md "Site-wide"): composed by the gateway from what each service keeps.

    GET /api/members/me/dashboard   member -> {petitions_signed, contact_requests,
                                               next_meetings, meetings_near_me, debates}

Each part is one call to the service that owns it, made in parallel. Meetings
have no service behind them yet (issue 10): their lists are empty, and say so in
the OpenAPI description.
"""
from __future__ import annotations

import eventlet
from marshmallow import Schema, fields

from ..auth import require_actor
from ..debate_schemas import MyDebate
from ..petition_schemas import SignedPetition
from ..http import api, json_response
from ..openapi import documented

SHOWN = 10  # items of each part: the dashboard is a summary, each list has its own endpoint


class ContactRequest(Schema):
    member_id = fields.String()
    display_name = fields.String()
    status = fields.String()


class Dashboard(Schema):
    petitions_signed = fields.List(fields.Nested(SignedPetition))
    contact_requests = fields.List(fields.Nested(ContactRequest), metadata={"description": "incoming, waiting for me"})
    next_meetings = fields.List(fields.Dict(), metadata={"description": "empty until the meetings service exists"})
    meetings_near_me = fields.List(fields.Dict(), metadata={"description": "empty until the meetings service exists"})
    debates = fields.List(fields.Nested(MyDebate), metadata={"description": "debates I opened or wrote in, latest activity first"})


class DashboardApi:
    """Mixed into the gateway service: `self.services` calls the services."""

    @api("GET", "/api/members/me/dashboard")
    @documented("My dashboard: the petitions I signed, the contact requests waiting for me, my debates "
                "(meetings once their service exists)", responses={200: Dashboard}, auth=True)
    def dashboard(self, request):
        actor, _ = require_actor(self.services, request)
        member_id = actor["member_id"]
        signed = eventlet.spawn(self.services.call, "petitions", "signed_by", member_id, limit=SHOWN)
        contacts = eventlet.spawn(self.services.call, "members", "list_contacts", member_id, limit=100)
        debates = eventlet.spawn(self.services.call, "debates", "debates_of", member_id, limit=SHOWN)
        incoming = [c for c in contacts.wait()["items"] if c.get("status") == "incoming"][:SHOWN]
        return json_response({"petitions_signed": signed.wait()["items"], "contact_requests": incoming,
                              "next_meetings": [], "meetings_near_me": [], "debates": debates.wait()})
