"""The JSON API of meetings (API.md "Meetings and trainings", issue 10), kept by the events service.

    GET    /api/meetings                          ?postcode&radius_km&federation&theme&from&sort=date|distance; anyone
    POST   /api/meetings                          organizers and admins -> 201 (draft: true keeps it unpublished)
    GET    /api/meetings/{id}                     anyone (a draft: its organizer and admins)
    PATCH  /api/meetings/{id}                     its organizer, its federation's admins, national admins
    POST   /api/meetings/{id}/publish|cancel      the same
    POST   /api/meetings/{id}/registrations       a member -> 201 {status: confirmed|waitlisted}
    DELETE /api/meetings/{id}/registrations/me    a member -> 204
    GET    /api/meetings/{id}/registrations       its organizer (and admins): the registrants
    POST   /api/meetings/{id}/attendance          its organizer (and admins): {member_id}
    GET    /api/meetings/{id}.ics                 anyone: text/calendar
    GET    /api/members/me/meetings               my registrations, soonest first
    GET    /api/members/me/meetings/organized     the meetings I organize
    GET    /api/members/me/calendar               {url}: my secret calendar feed, /calendar/{key}.ics

Who may do what, seats and waitlists are the events service's decisions, from the
caller's roles and federation that `auth.actor_of` puts in the call context.
"""
from __future__ import annotations

from werkzeug.wrappers import Response

from umpnet_kernel.config import public_url
from umpnet_kernel.errors import NotFound

from .. import meeting_schemas as schemas
from ..auth import actor_of, bearer_token, require_actor
from ..batching import Gatherer
from ..caching import public_read
from ..http import api, json_body, json_response
from ..openapi import documented
from .lists import list_filters, paged

FILTERS = ("postcode", "radius_km", "federation", "theme", "from", "sort", "lat", "lon")
RENAMED = {"from": "start"}  # the query parameter -> the service's argument
COUNT_TTL = 2  # seconds a public read (seats left) is kept
CALENDAR_TYPE = "text/calendar; charset=utf-8"
# Registrations come in bursts when a meeting opens: the requests of 2 ms share one call (batching.py).
REGISTERING = Gatherer("events", "register_many")


def meeting_filters(args) -> dict:
    """The list's filters as the service takes them: the empty ones left out (`lists.list_filters`)."""
    return list_filters(args, FILTERS, RENAMED)


def calendar_url(key: str) -> str:
    return f"{public_url().rstrip('/')}/calendar/{key}.ics"


def calendar_response(text: str, filename: str) -> Response:
    return Response(text, status=200, mimetype="text/calendar", content_type=CALENDAR_TYPE,
                    headers={"Content-Disposition": f'inline; filename="{filename}"'})


class MeetingsApi:
    """Mixed into the gateway service: `self.services` calls the services."""

    def _meeting_caller(self, request):
        """The member behind the bearer token, if any: a draft's organizer sees it."""
        return actor_of(self.services, request, bearer_token(request))

    @api("GET", "/api/meetings")
    @documented("Upcoming meetings, soonest first (or nearest with ?postcode&sort=distance); "
                "?postcode&radius_km (default 30), ?federation, ?theme, ?from (ISO 8601)",
                responses={200: schemas.MeetingList},
                query={"postcode": "string", "radius_km": "number", "federation": "string", "theme": "string",
                       "from": "string", "sort": "string"})
    @public_read("meetings", ttl=COUNT_TTL)
    def list_meetings(self, request):
        self._meeting_caller(request)
        return json_response(paged(self.services, request, "events", "list_meetings", meeting_filters(request.args)))

    @api("POST", "/api/meetings")
    @documented("Create a meeting (organizers and admins; a local one in the creator's federation), "
                "published at once unless draft: true", body=schemas.MeetingRequest,
                responses={201: schemas.Meeting}, auth=True)
    def create_meeting(self, request):
        require_actor(self.services, request)
        data = json_body(request, schemas.MeetingRequest)
        return json_response(self.services.call("events", "create_meeting", data), 201)

    @api("GET", "/api/meetings/<id:meeting_id>")
    @documented("A meeting, with its seats left (and my registration, if I am logged in)",
                responses={200: schemas.Meeting})
    @public_read("meetings", ttl=COUNT_TTL)
    def get_meeting(self, request, meeting_id):
        self._meeting_caller(request)
        return json_response(self.services.call("events", "get_meeting", meeting_id))

    @api("PATCH", "/api/meetings/<id:meeting_id>")
    @documented("Edit a meeting (its organizer and admins): the capacity never below the confirmed count",
                body=schemas.MeetingChanges, responses={200: schemas.Meeting}, auth=True)
    def edit_meeting(self, request, meeting_id):
        require_actor(self.services, request)
        data = json_body(request, schemas.MeetingChanges, required=True)
        return json_response(self.services.call("events", "edit_meeting", meeting_id, data))

    @api("POST", "/api/meetings/<id:meeting_id>/publish")
    @documented("Publish a draft (its organizer and admins)", responses={200: schemas.Meeting}, auth=True)
    def publish_meeting(self, request, meeting_id):
        require_actor(self.services, request)
        return json_response(self.services.call("events", "publish_meeting", meeting_id))

    @api("POST", "/api/meetings/<id:meeting_id>/cancel")
    @documented("Cancel a meeting (its organizer and admins): its registrants are told by email",
                body=schemas.CancelRequest, responses={200: schemas.Meeting}, auth=True)
    def cancel_meeting(self, request, meeting_id):
        require_actor(self.services, request)
        data = json_body(request, schemas.CancelRequest)
        return json_response(self.services.call("events", "cancel_meeting", meeting_id, data))

    # -- registrations ----------------------------------------------------------------
    @api("POST", "/api/meetings/<id:meeting_id>/registrations")
    @documented("Register: a seat if one is left, otherwise the waitlist (409 if already registered, "
                "or the meeting is cancelled or has started)", responses={201: schemas.RegistrationStatus},
                auth=True)
    def register_for_meeting(self, request, meeting_id):
        actor, _ = require_actor(self.services, request)
        answer = REGISTERING.call(self.services, {"meeting_id": meeting_id, "member_id": actor["member_id"]})
        return json_response(answer, 201)

    @api("DELETE", "/api/meetings/<id:meeting_id>/registrations/me")
    @documented("Unregister: a freed seat goes to the first on the waitlist, who is told",
                responses={204: None}, auth=True)
    def unregister_from_meeting(self, request, meeting_id):
        require_actor(self.services, request)
        self.services.call("events", "unregister_from_meeting", meeting_id)
        return Response(status=204)

    @api("GET", "/api/meetings/<id:meeting_id>/registrations")
    @documented("The registrants: confirmed first, then the waitlist in order (its organizer and admins)",
                responses={200: schemas.RegistrantList}, auth=True)
    def meeting_registrants(self, request, meeting_id):
        require_actor(self.services, request)
        return json_response(paged(self.services, request, "events", "registrants", meeting_id))

    @api("POST", "/api/meetings/<id:meeting_id>/attendance")
    @documented("Record that a confirmed registrant came (its organizer and admins)",
                body=schemas.AttendanceRequest, responses={200: schemas.Attendance}, auth=True)
    def record_meeting_attendance(self, request, meeting_id):
        require_actor(self.services, request)
        data = json_body(request, schemas.AttendanceRequest)
        return json_response(self.services.call("events", "record_attendance", meeting_id, data))

    # -- calendars ----------------------------------------------------------------------
    @api("GET", "/api/meetings/<id:meeting_id>.ics")
    @documented("The meeting as iCalendar (times in Europe/Paris)", responses={200: None})
    @public_read("meetings", ttl=COUNT_TTL)
    def meeting_ics(self, request, meeting_id):
        self._meeting_caller(request)
        text = self.services.call("events", "meeting_ics", meeting_id)
        return calendar_response(text, f"reunion-{meeting_id}.ics")

    @api("GET", "/api/members/me/meetings")
    @documented("The meetings I registered for, soonest first", responses={200: schemas.MyMeetingList}, auth=True)
    def my_meetings(self, request):
        actor, _ = require_actor(self.services, request)
        return json_response(self.services.call("events", "my_meetings", actor["member_id"], limit=500))

    @api("GET", "/api/members/me/meetings/organized")
    @documented("The meetings I organize, latest first", responses={200: schemas.MeetingList}, auth=True)
    def my_organized_meetings(self, request):
        require_actor(self.services, request)
        return json_response(paged(self.services, request, "events", "organized_meetings"))

    @api("GET", "/api/members/me/calendar")
    @documented("My calendar feed's secret address: calendar apps subscribe to it (no login)",
                responses={200: schemas.CalendarFeed}, auth=True)
    def my_calendar(self, request):
        require_actor(self.services, request)
        key = self.services.call("events", "calendar_feed_key")["key"]
        return json_response({"url": calendar_url(key)}, headers={"Cache-Control": "private, no-store"})

    @api("GET", "/calendar/<key>.ics")
    def calendar_feed(self, request, key):
        """A member's feed, by its secret key (no session: calendar apps have none)."""
        if len(key) > 100:
            raise NotFound("Calendrier introuvable.")
        text = self.services.call("events", "calendar_feed", key)
        response = calendar_response(text, "umpnet.ics")
        response.headers["Cache-Control"] = "private, max-age=300"
        response.headers["Referrer-Policy"] = "no-referrer"
        return response
