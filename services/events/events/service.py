"""The events service (meetings and trainings): its RPC entrypoints, a few lines each:
read the payload into its command, call the use case, answer.

Who asks (actor, roles, federation) comes with the call in nameko's context data
(`CallContext`); domain errors travel back as the kernel's error types. The
payloads are the gateway's (API.md "Meetings and trainings"). The meetings' use
cases are the app's own (`application.MeetingsApp`); the trainings' RPC methods
are those of `trainings.rpc.TrainingsRpc`, mixed in, on the same app (its
projections are the trainings' too): one database, one outbox.
"""
from __future__ import annotations

import os
from dataclasses import replace

from marshmallow import EXCLUDE, Schema, fields

from umpnet_kernel.config import public_url, secret_key
from umpnet_kernel.events import Context
from umpnet_kernel.nameko import CallContext, EventSourcing, Operations, subscribe
from umpnet_kernel.payloads import load

from .application import MeetingsApp
from .commands import CancelMeeting, CreateMeeting, EditMeeting, RecordAttendance
from .geocoding import CommuneLocator, geocoder_named
from .trainings.projections import training_projections
from .trainings.rpc import TrainingsRpc, command, trainings_personal_data


def build(db, config) -> MeetingsApp:
    setting = lambda name: config.get(name) or os.environ.get(name) or None  # noqa: E731
    # GEOCODER: who finds a meeting's commune (events/geocoding.py); offline by default
    locator = CommuneLocator(geocoder_named(setting("GEOCODER"), setting("GEOCODER_DOMAIN"),
                                            setting("GEOCODER_SCHEME")))
    return MeetingsApp(db, config.get("SECRET_KEY") or secret_key(), locator,
                       more_projections=training_projections())


class MemberErased(Schema):
    class Meta:
        unknown = EXCLUDE

    member_id = fields.String(required=True)


class EventsService(TrainingsRpc, Operations):
    name = "events"
    app: MeetingsApp = EventSourcing(build)
    context: Context = CallContext()

    # -- meetings: the organizer's ----------------------------------------------------
    @command
    def create_meeting(self, data):
        return self.app.create(load(CreateMeeting, data), self.context)

    @command
    def edit_meeting(self, meeting_id, data):
        return self.app.edit(load(EditMeeting, data, meeting_id=meeting_id), self.context)

    @command
    def publish_meeting(self, meeting_id):
        return self.app.publish(meeting_id, self.context)

    @command
    def cancel_meeting(self, meeting_id, data):
        return self.app.cancel(load(CancelMeeting, data, meeting_id=meeting_id), self.context)

    @command
    def registrants(self, meeting_id, limit=None, cursor=None):
        return self.app.registrants(meeting_id, self.context, limit=limit, cursor=cursor)

    @command
    def record_attendance(self, meeting_id, data):
        return self.app.record_attendance(load(RecordAttendance, data, meeting_id=meeting_id), self.context)

    @command
    def organized_meetings(self, limit=None, cursor=None):
        return self.app.organized_by(self.context, limit=limit, cursor=cursor)

    # -- meetings: anyone's ---------------------------------------------------------------
    @command
    def get_meeting(self, meeting_id):
        return self.app.meeting(meeting_id, self.context)

    @command
    def list_meetings(self, filters, limit=None, cursor=None):
        return self.app.list_meetings(self.context, **filters, limit=limit, cursor=cursor)

    @command
    def meeting_ics(self, meeting_id):
        return self.app.meeting_ics(meeting_id, self.context, public_url())

    @command
    def meeting_stats(self):
        return self.app.stats()

    # -- registrations ----------------------------------------------------------------------
    @command
    def register_for_meeting(self, meeting_id):
        return self.app.register(meeting_id, self.context)

    @command
    def register_many(self, requests):
        """[{meeting_id, member_id}] gathered by the gateway (each member as it authenticated them)
        → [{"ok": answer} | {"error": refusal}]. The call is made by whichever request led the
        batch: its events name no actor (each names its member)."""
        anonymous = replace(self.context, actor_id=None, actor_roles=(), actor_federation=None, source=None,
                            idempotency_key=None)
        return self.app.register_many([(r["meeting_id"], r["member_id"]) for r in requests], anonymous)

    @command
    def unregister_from_meeting(self, meeting_id):
        return self.app.unregister(meeting_id, self.context)

    @command
    def my_meetings(self, member_id, limit=50):
        return self.app.my_meetings(member_id, limit)

    @command
    def calendar_feed_key(self):
        return self.app.calendar_feed_key(self.context)

    @command
    def calendar_feed(self, key):
        return self.app.calendar_feed(key, public_url())

    # -- members' privacy ---------------------------------------------------------------------
    @command
    def export_personal_data(self, member_id):
        return {**self.app.export_personal_data(member_id), **trainings_personal_data(self.app, member_id)}

    @subscribe("members", "members.MemberErased", schema=MemberErased())
    def on_member_erased(self, incoming):
        self.app.member_erased(incoming)
