"""A member's dashboard (API.md "Site-wide"): composed by the gateway from what each service keeps.

    GET /api/members/me/dashboard   member -> {petitions_signed, contact_requests,
                                               next_meetings, meetings_near_me, debates}

Each part is one call to the service that owns it, made in parallel ("meetings
near me in my themes": my postcode and themes from members, then the events
service's search around that postcode).
"""
from __future__ import annotations

import eventlet
from marshmallow import Schema, fields

from ..auth import require_actor
from ..debate_schemas import MyDebate
from ..meeting_schemas import MeetingSummary, MyMeeting
from ..petition_schemas import SignedPetition
from ..http import api, json_response
from ..openapi import documented

NEAR_KM = 30  # "near me"
SHOWN = 10  # items of each part: the dashboard is a summary, each list has its own endpoint


class ContactRequest(Schema):
    member_id = fields.String()
    display_name = fields.String()
    status = fields.String()


class Dashboard(Schema):
    petitions_signed = fields.List(fields.Nested(SignedPetition))
    contact_requests = fields.List(fields.Nested(ContactRequest), metadata={"description": "incoming, waiting for me"})
    next_meetings = fields.List(fields.Nested(MyMeeting), metadata={"description": "the meetings I registered for"})
    meetings_near_me = fields.List(fields.Nested(MeetingSummary), metadata={
        "description": f"upcoming within {NEAR_KM} km of my postcode, in the themes I follow (all if I follow none)"})
    debates = fields.List(fields.Nested(MyDebate), metadata={"description": "debates I opened or wrote in, latest activity first"})


class DashboardApi:
    """Mixed into the gateway service: `self.services` calls the services."""

    @api("GET", "/api/members/me/dashboard")
    @documented("My dashboard: my next meetings, meetings near me in my themes, the petitions I signed, "
                "the contact requests waiting for me, my debates", responses={200: Dashboard}, auth=True)
    def dashboard(self, request):
        actor, _ = require_actor(self.services, request)
        member_id = actor["member_id"]
        signed = eventlet.spawn(self.services.call, "petitions", "signed_by", member_id, limit=SHOWN)
        contacts = eventlet.spawn(self.services.call, "members", "list_contacts", member_id, limit=100)
        debates = eventlet.spawn(self.services.call, "debates", "debates_of", member_id, limit=SHOWN)
        mine = eventlet.spawn(self.services.call, "events", "my_meetings", member_id, limit=SHOWN)
        profile = self.services.call("members", "get_own_profile", member_id)
        near = {"postcode": profile.get("postcode"), "radius_km": str(NEAR_KM), "themes": list(profile.get("themes") or ())}
        nearby = (self.services.call("events", "list_meetings", near, limit=SHOWN)["items"]
                  if profile.get("postcode") else [])
        incoming = [c for c in contacts.wait()["items"] if c.get("status") == "incoming"][:SHOWN]
        return json_response({"petitions_signed": signed.wait()["items"], "contact_requests": incoming,
                              "next_meetings": mine.wait()["items"], "meetings_near_me": nearby, "debates": debates.wait()})
