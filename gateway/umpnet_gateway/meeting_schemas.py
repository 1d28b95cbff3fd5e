"""The meetings part of the HTTP contract (API.md "Meetings and trainings"): request
bodies checked for shape here (types, lengths from `events.limits`); what they mean
(dates, postcodes, themes, capacity, who may) is the events service's."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from events import limits

from .schemas import Strict, list_of

TITLE = validate.Length(min=1, max=limits.TITLE_MAX)
DESCRIPTION = validate.Length(min=1, max=limits.DESCRIPTION_MAX)
ADDRESS = validate.Length(min=1, max=limits.ADDRESS_MAX)
MOMENT = validate.Length(min=1, max=64)
SHORT = validate.Length(max=100)  # a theme slug, a federation code, a postcode
URL = validate.Length(max=limits.URL_MAX)
ID = validate.Length(min=1, max=100)


class MeetingRequest(Strict):
    """`POST /api/meetings`: published at once unless `draft: true`."""

    class Meta(Strict.Meta):
        multiline = ("description",)

    title = fields.String(required=True, validate=TITLE)
    description = fields.String(required=True, validate=DESCRIPTION, metadata={"description": "Markdown"})
    starts_at = fields.String(required=True, validate=MOMENT, metadata={"description": "ISO 8601 with a zone"})
    ends_at = fields.String(required=True, validate=MOMENT, metadata={"description": "ISO 8601 with a zone"})
    address = fields.String(required=True, validate=ADDRESS)
    postcode = fields.String(required=True, validate=SHORT)
    capacity = fields.Integer(required=True, strict=True)
    theme = fields.String(required=True, validate=SHORT)
    federation_code = fields.String(allow_none=True, validate=SHORT,
                                    metadata={"description": "a local meeting's federation; none: national"})
    online_url = fields.String(allow_none=True, validate=URL, metadata={"description": "online or hybrid"})
    notify_radius_km = fields.Integer(allow_none=True, strict=True,
                                      metadata={"description": "members within it who follow the theme are told"})
    draft = fields.Boolean(load_default=False)


class MeetingChanges(Strict):
    """`PATCH /api/meetings/{id}`: only the fields given change (online_url "" removes the link)."""

    class Meta(Strict.Meta):
        multiline = ("description",)

    title = fields.String(validate=TITLE)
    description = fields.String(validate=DESCRIPTION)
    starts_at = fields.String(validate=MOMENT)
    ends_at = fields.String(validate=MOMENT)
    address = fields.String(validate=ADDRESS)
    postcode = fields.String(validate=SHORT)
    capacity = fields.Integer(strict=True)
    theme = fields.String(validate=SHORT)
    online_url = fields.String(validate=URL)
    notify_radius_km = fields.Integer(strict=True)


class CancelRequest(Strict):
    reason = fields.String(load_default="", validate=validate.Length(max=limits.REASON_MAX))


class AttendanceRequest(Strict):
    member_id = fields.String(required=True, validate=ID)


# -- answers (documentation) -----------------------------------------------------
class MeetingSummary(Schema):
    id = fields.String()
    title = fields.String()
    starts_at = fields.String()
    ends_at = fields.String()
    timezone = fields.String(metadata={"description": "Europe/Paris"})
    city = fields.String()
    postcode = fields.String()
    lat = fields.Float(metadata={"description": "the commune's, never the address's"})
    lon = fields.Float()
    capacity = fields.Integer()
    seats_left = fields.Integer()
    confirmed_count = fields.Integer()
    waitlist_count = fields.Integer()
    federation = fields.String(allow_none=True)
    scope = fields.String(metadata={"description": "national or local"})
    theme = fields.String()
    status = fields.String(metadata={"description": "published, draft, cancelled or past"})
    online = fields.Boolean()
    distance_km = fields.Float(metadata={"description": "with ?postcode only"})


MeetingList = list_of(MeetingSummary)


class MyRegistration(Schema):
    status = fields.String(metadata={"description": "confirmed or waitlisted"})
    position = fields.Integer(metadata={"description": "on the waitlist (1: next)"})
    attended = fields.Boolean()


class Meeting(MeetingSummary):
    description = fields.String()
    description_html = fields.String(metadata={"description": "the Markdown rendered and sanitised"})
    address = fields.String()
    online_url = fields.String(allow_none=True)
    organizer_id = fields.String()
    notify_radius_km = fields.Integer()
    cancel_reason = fields.String(allow_none=True)
    managed = fields.Boolean(metadata={"description": "whether the caller may edit it"})
    my_registration = fields.Nested(MyRegistration, allow_none=True)


class RegistrationStatus(Schema):
    meeting_id = fields.String()
    status = fields.String(metadata={"description": "confirmed or waitlisted"})
    position = fields.Integer(metadata={"description": "when waitlisted"})


class Registrant(Schema):
    member_id = fields.String()
    status = fields.String()
    position = fields.Integer()
    attended = fields.Boolean()
    registered_at = fields.String()


RegistrantList = list_of(Registrant)


class MyMeeting(MeetingSummary):
    registration = fields.String(metadata={"description": "confirmed or waitlisted"})


MyMeetingList = list_of(MyMeeting)


class Attendance(Schema):
    meeting_id = fields.String()
    member_id = fields.String()
    attended = fields.Boolean()


class CalendarFeed(Schema):
    url = fields.String(metadata={"description": "secret: whoever has it sees my meetings"})
