"""Meeting emails, from the events service's events (docs/events.md, `events.*`).

The mailer keeps its own copy of what it needs (never reading the events
service's database): `meeting_notices` (each meeting as it now stands, from
`mailer.MeetingNoted`) and `meeting_attendees` (each registration's status, from
`mailer.AttendeeNoted`), both projections of the mailer's events, so rebuildable.

Emails (templates `meeting-*`), each once: its id derives from the event that
caused it (and the member, when one event writes to many), and the event is
recorded processed in the same transaction, so a redelivery queues nothing.
- `events.RegistrationConfirmed` → `meeting-confirmed`; `RegistrationWaitlisted`
  → `meeting-waitlisted` (with the position); `WaitlistPromoted` → `meeting-promoted`;
  `RegistrationCancelled` → no email, the member is no longer written to.
- `events.MeetingChanged` whose `changed` names the time or the place →
  `meeting-changed` to the confirmed and waitlisted registrants (the .ics only to the
  confirmed: their `attendance` is in the inputs).
- `events.MeetingCancelled` → `meeting-cancelled` to the same.
- The day before (from 24 h before its start, `send_due_reminders`, a timer with
  the app's clock): `meeting-reminder` to the confirmed, once per start time
  (`mailer.MeetingReminderQueued`; a meeting moved gets a reminder for its new time).
- `events.MeetingPublished` → `meeting-announcement` to the verified members whose
  commune lies within `notify_radius_km` (geodesic, `umpnet_geo.within_km`), who
  follow its theme and accept the party's emails (`contact_consent`), from the
  recipients directory (directory.py); paged like a petition's milestone.

Events come on separate queues: a registration whose meeting, or whose member,
is not known yet raises `NotYetKnown`, and the subscriber retries it later. A
cancellation that comes before its publication makes the meeting known as
cancelled: the publication then announces nothing, and its registrations are
noted without an email (nobody was told of it, nobody is told it is off).
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Callable

from sqlalchemy import Column, DateTime, Float, Index, Integer, String, Table, Text, bindparam, delete, select

from umpnet_geo.coords import within_km
from umpnet_kernel import jsontext
from umpnet_kernel.application import UnitOfWork
from umpnet_kernel.events import Context
from umpnet_kernel.messages import IncomingEvent
from umpnet_kernel.projections import KeyedProjection, handles
from umpnet_kernel.throttle import utc_aware

from .directory import NotYetKnown, candidates_near, recipient_of, recipients
from .domain.email import OutgoingEmail
from .events import AttendeeNoted, MeetingNoted, MeetingReminderQueued
from .unsubscribe import unsubscribe_nonce
from .registry import forgets, read_models

meeting_notices = Table(
    "meeting_notices",
    read_models,
    Column("meeting_id", String(36), primary_key=True),
    Column("organizer_id", String(36)),
    Column("title", Text, nullable=False),
    Column("starts_at", DateTime(timezone=True), nullable=False),
    Column("ends_at", DateTime(timezone=True), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("city", Text, nullable=False),
    Column("postcode", String(10), nullable=False),
    Column("lat", Float),
    Column("lon", Float),
    Column("federation_code", String(3)),
    Column("theme", String(50)),
    Column("online_url", Text),
    Column("notify_radius_km", Float, nullable=False),
    Column("status", String(20), nullable=False),  # published | cancelled
    Column("source_version", Integer, nullable=False),
    Column("reminded_for", DateTime(timezone=True)),  # the start time whose reminders are queued
)
Index("ix_meeting_notices_due", meeting_notices.c.status, meeting_notices.c.starts_at)

meeting_attendees = Table(
    "meeting_attendees",
    read_models,
    Column("attendee_id", String(80), primary_key=True),  # "<meeting id>:<member id>"
    Column("meeting_id", String(36), nullable=False),
    Column("member_id", String(36), nullable=False),
    Column("status", String(20), nullable=False),  # confirmed | waitlisted | cancelled
    Column("source_stream", String(200), nullable=False),
    Column("source_version", Integer, nullable=False),
)
Index("ix_meeting_attendees_meeting", meeting_attendees.c.meeting_id, meeting_attendees.c.status)
Index("ix_meeting_attendees_member", meeting_attendees.c.member_id)

_FIELDS = ("organizer_id", "title", "starts_at", "ends_at", "timezone", "city", "postcode", "lat", "lon",
           "federation_code", "theme", "online_url", "notify_radius_km")


def _utc(moment: datetime) -> datetime:
    return moment.astimezone(timezone.utc)


class MeetingNoticesProjection(KeyedProjection):
    name = "meeting_notices"
    table = meeting_notices
    key_column = "meeting_id"

    @handles(MeetingNoted)
    def noted(self, row, e: MeetingNoted, recorded):
        values = {name: getattr(e, name) for name in _FIELDS}
        values.update(starts_at=_utc(e.starts_at), ends_at=_utc(e.ends_at))
        return {"meeting_id": e.meeting_id, **values, "status": e.status, "source_version": e.source_version,
                "reminded_for": row["reminded_for"] if row else None}

    @handles(MeetingReminderQueued)
    def reminded(self, row, e: MeetingReminderQueued, recorded):
        return None if row is None else {**row, "reminded_for": _utc(e.starts_at)}


def attendee_id(meeting_id: str, member_id: str) -> str:
    return f"{meeting_id}:{member_id}"


class AttendeesProjection(KeyedProjection):
    name = "meeting_attendees"
    table = meeting_attendees
    key_column = "attendee_id"

    def key_of(self, event):
        return attendee_id(event.meeting_id, event.member_id)

    @handles(AttendeeNoted)
    def noted(self, row, e: AttendeeNoted, recorded):
        return {"attendee_id": attendee_id(e.meeting_id, e.member_id), "meeting_id": e.meeting_id,
                "member_id": e.member_id, "status": e.status, "source_stream": e.source_stream,
                "source_version": e.source_version}


@forgets
def forget_attendances(conn, member_id: str) -> None:
    conn.execute(delete(meeting_attendees).where(meeting_attendees.c.member_id == member_id))


_MEETING = select(meeting_notices).where(meeting_notices.c.meeting_id == bindparam("meeting_id"))
_ATTENDEE = select(meeting_attendees).where(meeting_attendees.c.attendee_id == bindparam("attendee_id"))
# The registrants of the wanted statuses with their directory rows, in one query: an erased
# member has no row, one whose address has not come yet an empty one; neither is written to.
_ATTENDEES = (
    select(meeting_attendees.c.member_id, meeting_attendees.c.status, recipients.c.email, recipients.c.first_name)
    .join(recipients, recipients.c.member_id == meeting_attendees.c.member_id)
    .where(meeting_attendees.c.meeting_id == bindparam("meeting_id"),
           meeting_attendees.c.status.in_(bindparam("statuses", expanding=True)), recipients.c.email != "")
    .order_by(meeting_attendees.c.member_id))

# What makes a "meeting changed" email: the time or the place (an edited title or description does not).
MATERIAL_CHANGES = frozenset({"starts_at", "ends_at", "timezone", "address", "city", "postcode", "lat", "lon",
                              "online_url", "location"})
ANNOUNCEMENT_PAGE = 500  # candidates looked at in one transaction
REMINDER_AHEAD = timedelta(hours=24)


def _meeting(conn, meeting_id: str):
    return conn.execute(_MEETING, {"meeting_id": meeting_id}).mappings().first()


def meeting_inputs(meeting) -> dict:
    """What a meeting email says of its meeting (the template's inputs)."""
    return {"meeting_id": meeting["meeting_id"], "title": meeting["title"],
            "starts_at": _utc(utc_aware(meeting["starts_at"])).isoformat(),
            "ends_at": _utc(utc_aware(meeting["ends_at"])).isoformat(), "timezone": meeting["timezone"],
            "city": meeting["city"], "postcode": meeting["postcode"], "online_url": meeting["online_url"]}


def _member_email_id(event_id: str, member_id: str, kind: str) -> str:
    from .application import email_id_for

    return email_id_for(f"{event_id}:{member_id}", kind)


class MeetingEmails:
    """Mixed into `MailerApp` (`self.clock()` is its time, which tests set)."""

    # -- the meeting itself -------------------------------------------------
    def _note_meeting(self, uow: UnitOfWork, incoming: IncomingEvent, status: str | None = None):
        """Record the meeting as the event says it stands; the row as it now is (the
        newer one kept when events come out of order; cancelled is final)."""
        data = incoming.payload
        row = _meeting(uow.conn, data["meeting_id"])
        if status == "cancelled":
            if row is not None and row["status"] == "cancelled":
                return row
            if row is None:  # cancelled before its publication reached us (another queue): known as cancelled,
                # so that the publication, when it comes, announces nothing, and nobody is told of it
                moment = incoming.occurred_at
                values = {name: None for name in _FIELDS}
                values.update(title="", starts_at=moment, ends_at=moment, timezone="Europe/Paris", city="",
                              postcode="", notify_radius_km=0.0)
            else:
                values = {name: row[name] for name in _FIELDS}
            version = max(row["source_version"] if row else 0, incoming.stream_version)
        else:
            if row is not None and (row["status"] == "cancelled" or row["source_version"] >= incoming.stream_version):
                return row
            values = {name: data.get(name) for name in _FIELDS}
            values["timezone"] = values["timezone"] or "Europe/Paris"
            version = incoming.stream_version
            status = "published"
        stream = f"meeting-{data['meeting_id']}"
        uow.append(stream, uow.store.stream_version(uow.conn, stream), [MeetingNoted(
            meeting_id=data["meeting_id"], **values, status=status, source_version=version)])
        return _meeting(uow.conn, data["meeting_id"])

    def _queue_to_attendees(self, uow: UnitOfWork, meeting, kind: str, statuses: list[str],
                            email_id_of: Callable[[str], str], extra: dict) -> int:
        """Queue a `kind` email (each once: `email_id_of(member id)`) to the meeting's registrants
        of `statuses` known to the directory; how many were queued."""
        rows = uow.conn.execute(_ATTENDEES, {"meeting_id": meeting["meeting_id"], "statuses": statuses}).mappings().all()
        ids = {r["member_id"]: email_id_of(r["member_id"]) for r in rows}
        already = uow.get_many(OutgoingEmail, ids.values())
        queued = 0
        for r in rows:
            if ids[r["member_id"]] in already:
                continue
            uow.add(OutgoingEmail.queue(ids[r["member_id"]], kind, r["email"], kind, {
                **meeting_inputs(meeting), **extra, "first_name": r["first_name"], "attendance": r["status"]},
                r["member_id"]))
            queued += 1
        return queued

    def _to_attendees(self, uow: UnitOfWork, incoming: IncomingEvent, meeting, kind: str, extra: dict) -> int:
        return self._queue_to_attendees(uow, meeting, kind, ["confirmed", "waitlisted"],
                                        lambda member_id: _member_email_id(incoming.event_id, member_id, kind), extra)

    def meeting_changed(self, incoming: IncomingEvent) -> None:
        def command(uow: UnitOfWork):
            if not uow.first_delivery("mailer.meeting-changed", incoming.event_id):
                return
            if incoming.payload.get("status", "published") != "published":
                return  # a draft edited: its publication will say it all
            meeting = self._note_meeting(uow, incoming)
            material = MATERIAL_CHANGES.intersection(incoming.payload.get("changed") or ())
            if material and meeting["status"] != "cancelled" and utc_aware(meeting["ends_at"]) > self.clock():
                self._to_attendees(uow, incoming, meeting, "meeting-changed", {})

        self.execute(incoming.context(), command)

    def meeting_cancelled(self, incoming: IncomingEvent) -> None:
        def command(uow: UnitOfWork):
            if not uow.first_delivery("mailer.meeting-cancelled", incoming.event_id):
                return
            meeting = self._note_meeting(uow, incoming, status="cancelled")
            self._to_attendees(uow, incoming, meeting, "meeting-cancelled",
                               {"reason": incoming.payload.get("reason") or ""})

        self.execute(incoming.context(), command)

    def meeting_published(self, incoming: IncomingEvent, page_size: int = ANNOUNCEMENT_PAGE) -> int:
        """Note the meeting, then announce it to the members near it who follow its theme
        and accept the party's emails; returns how many were queued. Paged: each email's
        id derives from the event and the member, so a redelivery after a crash halfway
        queues only the ones not queued yet; the event is recorded processed at the end."""
        from .application import _PROCESSED

        consumer = "mailer.meeting-announcement"
        with self.read() as conn:
            if conn.execute(_PROCESSED, {"consumer": consumer, "event_id": incoming.event_id}).first():
                return 0
        meeting = self.execute(incoming.context(), lambda uow: dict(self._note_meeting(uow, incoming)))
        total = 0
        if (meeting["status"] == "published" and meeting["lat"] is not None and meeting["lon"] is not None
                and meeting["theme"] and utc_aware(meeting["starts_at"]) > self.clock()):
            inputs = meeting_inputs(meeting)
            origin, radius = (meeting["lat"], meeting["lon"]), float(meeting["notify_radius_km"] or 0)

            def page(after: str):
                def command(uow: UnitOfWork):
                    rows = candidates_near(uow.conn, origin[0], origin[1], radius, meeting["theme"], after, page_size)
                    chosen = [r for r in rows if r["member_id"] != meeting["organizer_id"]
                              and meeting["theme"] in jsontext.decode(r["themes"])
                              and within_km(origin, (r["lat"], r["lon"]), radius) is not None]
                    ids = {r["member_id"]: _member_email_id(incoming.event_id, r["member_id"], "meeting-announcement")
                           for r in chosen}
                    already = uow.get_many(OutgoingEmail, ids.values())
                    for r in chosen:
                        if ids[r["member_id"]] not in already:
                            uow.add(OutgoingEmail.queue(ids[r["member_id"]], "meeting-announcement", r["email"],
                                                        "meeting-announcement",
                                                        {**inputs, "first_name": r["first_name"],
                                                         "unsubscribe": unsubscribe_nonce("announcements", r["member_id"])},
                                                        r["member_id"]))
                    last = rows[-1]["member_id"] if len(rows) == page_size else None
                    return last, len(chosen) - len(already)

                return command

            after = ""
            while after is not None:
                after, queued = self.execute(incoming.context(), page(after))
                total += queued
        self.execute(incoming.context(), lambda uow: uow.first_delivery(consumer, incoming.event_id))
        return total

    # -- registrations ------------------------------------------------------
    def record_registrations(self, incomings: list[IncomingEvent]) -> None:
        self.execute_many([self._registration(incoming) for incoming in incomings])

    _REGISTRATION = {
        "events.RegistrationConfirmed": ("confirmed", "meeting-confirmed"),
        "events.RegistrationWaitlisted": ("waitlisted", "meeting-waitlisted"),
        "events.WaitlistPromoted": ("confirmed", "meeting-promoted"),
        "events.RegistrationCancelled": ("cancelled", None),
    }

    def _registration(self, incoming: IncomingEvent):
        data = incoming.payload
        status, kind = self._REGISTRATION[incoming.event_type]

        def command(uow: UnitOfWork):
            if not uow.first_delivery("mailer.meeting-registration", incoming.event_id):
                return
            meeting_id, member_id = data["meeting_id"], data["member_id"]
            meeting = _meeting(uow.conn, meeting_id)
            if meeting is None:
                raise NotYetKnown(f"meeting {meeting_id} is not known yet")
            recipient = recipient_of(uow, member_id)
            if recipient is None:
                return  # erased
            before = uow.conn.execute(_ATTENDEE, {"attendee_id": attendee_id(meeting_id, member_id)}).mappings().first()
            if (before is not None and before["source_stream"] == incoming.stream_id
                    and before["source_version"] >= incoming.stream_version):
                return  # an older event than what is known: no email about a state that no longer is
            stream = f"attendee-{attendee_id(meeting_id, member_id)}"
            uow.append(stream, uow.store.stream_version(uow.conn, stream), [AttendeeNoted(
                meeting_id=meeting_id, member_id=member_id, status=status, source_stream=incoming.stream_id,
                source_version=incoming.stream_version)])
            if kind is None or meeting["status"] == "cancelled" or utc_aware(meeting["ends_at"]) <= self.clock():
                return
            from .application import email_id_for

            inputs = {**meeting_inputs(meeting), "first_name": recipient["first_name"]}
            if status == "waitlisted":
                inputs["position"] = int(data.get("position") or 0)
            uow.add(OutgoingEmail.queue(email_id_for(incoming.event_id, kind), kind, recipient["email"], kind,
                                        inputs, member_id))

        return incoming.context(), command

    # -- the day before -----------------------------------------------------
    def send_due_reminders(self, now: datetime | None = None) -> int:
        """Queue the reminders of the meetings starting within 24 h whose reminders for
        that start time are not queued yet; returns how many emails were queued."""
        now = now or self.clock()
        c = meeting_notices.c
        due_query = select(c.meeting_id, c.starts_at, c.reminded_for).where(
            c.status == "published", c.starts_at > now, c.starts_at <= now + REMINDER_AHEAD)
        with self.read() as conn:
            due = [r.meeting_id for r in conn.execute(due_query)
                   if r.reminded_for is None or utc_aware(r.reminded_for) != utc_aware(r.starts_at)]
        total = 0
        for meeting_id in due:
            total += self.execute(Context(), lambda uow, m=meeting_id: self._remind(uow, m, now))
        return total

    def _remind(self, uow: UnitOfWork, meeting_id: str, now: datetime) -> int:
        meeting = _meeting(uow.conn, meeting_id)
        starts_at = utc_aware(meeting["starts_at"])
        if meeting["status"] != "published" or (meeting["reminded_for"] and utc_aware(meeting["reminded_for"]) == starts_at):
            return 0  # done meanwhile (another process)
        from .application import email_id_for

        queued = self._queue_to_attendees(
            uow, meeting, "meeting-reminder", ["confirmed"],
            lambda member_id: email_id_for(f"{meeting_id}:{starts_at.isoformat()}:{member_id}", "meeting-reminder"), {})
        stream = f"meeting-{meeting_id}"
        uow.append(stream, uow.store.stream_version(uow.conn, stream),
                   [MeetingReminderQueued(meeting_id=meeting_id, starts_at=starts_at)])
        return queued
