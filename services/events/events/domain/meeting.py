"""A meeting: drafted or published, edited, cancelled; its seats, its waitlist, its attendance.

Its registrations live on its own stream, so every decision about seats is
made from the one state that the store's optimistic concurrency protects:
two registrations that read the stream at the same version cannot both
append; the loser is decided again on the fresh state (application.py). So
the confirmed count never exceeds the capacity, whatever the concurrency,
and the waitlist keeps the order in which the appends won. A member is in
the meeting at most once (confirmed or waiting), by the same token.

The rules that need the clock take `now`; the caller passes it.
"""
from __future__ import annotations

from dataclasses import dataclass, fields, replace
from datetime import datetime

from umpnet_kernel.aggregate import Aggregate, applies
from umpnet_kernel.errors import Conflict, NotFound, ValidationFailed

from ..events import (
    AttendanceRecorded, MeetingCancelled, MeetingChanged, MeetingDrafted, MeetingPublished, RegistrantForgotten,
    RegistrationCancelled, RegistrationConfirmed, RegistrationWaitlisted, WaitlistPromoted,
)

DRAFT, PUBLISHED, CANCELLED = "draft", "published", "cancelled"
CONFIRMED, WAITLISTED = "confirmed", "waitlisted"
TIMEZONE = "Europe/Paris"


def invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, {field: [message]})


@dataclass(frozen=True)
class Details:
    """What an organizer says of a meeting (checked and geocoded by the use case)."""

    title: str
    description: str
    description_html: str
    starts_at: datetime
    ends_at: datetime
    address: str
    city: str
    postcode: str
    lat: float
    lon: float
    federation_code: str | None
    theme: str
    capacity: int
    online_url: str | None = None
    notify_radius_km: int = 30
    timezone: str = TIMEZONE

    def as_fields(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self)}


def check_times(starts_at: datetime, ends_at: datetime, now: datetime, *, starts_changed: bool = True) -> None:
    if starts_changed and starts_at <= now:
        raise invalid("starts_at", "Le début doit être dans le futur.")
    if ends_at <= starts_at:
        raise invalid("ends_at", "La fin doit suivre le début.")


class Meeting(Aggregate):
    stream_prefix = "meeting"

    def __init__(self, id: str):
        super().__init__(id)
        self.status: str | None = None
        self.organizer_id: str | None = None
        self.details: Details | None = None
        self.confirmed: dict[str, None] = {}  # member ids, in the order they got their seat
        self.waitlist: list[str] = []  # member ids, first to be promoted first
        self.attended: set[str] = set()

    # -- the organizer's ---------------------------------------------------------
    @classmethod
    def create(cls, meeting_id: str, organizer_id: str, details: Details, now: datetime, *,
               draft: bool = False) -> "Meeting":
        check_times(details.starts_at, details.ends_at, now)
        if details.capacity < 1:
            raise invalid("capacity", "Au moins une place.")
        meeting = cls(meeting_id)
        event = MeetingDrafted if draft else MeetingPublished
        meeting._record(event(meeting_id=meeting_id, organizer_id=organizer_id, **details.as_fields()))
        return meeting

    def publish(self, now: datetime) -> None:
        if self.status != DRAFT:
            raise Conflict("Cette réunion est déjà publiée." if self.status == PUBLISHED
                           else "Cette réunion est annulée.")
        if self.details.starts_at <= now:
            raise invalid("starts_at", "Le début est passé : changez la date avant de publier.")
        self._record(MeetingPublished(meeting_id=self.id, organizer_id=self.organizer_id, **self.details.as_fields()))

    def edit(self, changes: dict, now: datetime) -> list[str]:
        """Apply `changes` (Details field → new value); the names of the fields that changed."""
        if self.status == CANCELLED:
            raise Conflict("Cette réunion est annulée : elle ne se modifie plus.")
        if self.ended(now):
            raise Conflict("Cette réunion est passée : elle ne se modifie plus.")
        new = replace(self.details, **changes)
        changed = [name for name in changes if getattr(new, name) != getattr(self.details, name)]
        if not changed:
            return []
        check_times(new.starts_at, new.ends_at, now, starts_changed="starts_at" in changed)
        if new.capacity < 1:
            raise invalid("capacity", "Au moins une place.")
        if new.capacity < len(self.confirmed):
            raise invalid("capacity", f"Déjà {len(self.confirmed)} inscrits confirmés : la capacité ne peut "
                                      "descendre en dessous.")
        self._record(MeetingChanged(meeting_id=self.id, organizer_id=self.organizer_id, status=self.status,
                                    changed=tuple(changed), **new.as_fields()))
        self._promote()  # a larger capacity seats the first who wait
        return changed

    def cancel(self, by: str, reason: str) -> None:
        if self.status == CANCELLED:
            raise Conflict("Cette réunion est déjà annulée.")
        self._record(MeetingCancelled(meeting_id=self.id, reason=reason, cancelled_by=by))

    # -- registrants -------------------------------------------------------------
    def ended(self, now: datetime) -> bool:
        return self.details is not None and self.details.ends_at <= now

    def status_of(self, member_id: str) -> str | None:
        if member_id in self.confirmed:
            return CONFIRMED
        if member_id in self.waitlist:
            return WAITLISTED
        return None

    def register(self, member_id: str, now: datetime) -> str:
        """A seat if one is left, else the end of the waitlist: "confirmed" or "waitlisted"."""
        if self.status == DRAFT:
            raise NotFound("Réunion introuvable.")
        if self.status == CANCELLED:
            raise Conflict("Cette réunion est annulée.")
        if self.details.starts_at <= now:
            raise Conflict("Cette réunion a déjà commencé : les inscriptions sont closes.")
        if self.status_of(member_id) is not None:
            raise Conflict("Vous êtes déjà inscrit à cette réunion.")
        if len(self.confirmed) < self.details.capacity:
            self._record(RegistrationConfirmed(meeting_id=self.id, member_id=member_id))
            return CONFIRMED
        self._record(RegistrationWaitlisted(meeting_id=self.id, member_id=member_id,
                                            position=len(self.waitlist) + 1))
        return WAITLISTED

    def unregister(self, member_id: str, now: datetime) -> str:
        """Leave the meeting; a freed seat goes to the first who waits. What the member was."""
        was = self.status_of(member_id)
        if was is None:
            raise NotFound("Vous n'êtes pas inscrit à cette réunion.")
        if self.ended(now):
            raise Conflict("Cette réunion est passée.")
        self._record(RegistrationCancelled(meeting_id=self.id, member_id=member_id, was=was))
        if self.status != CANCELLED:
            self._promote()
        return was

    def _promote(self) -> None:
        while self.waitlist and len(self.confirmed) < self.details.capacity:
            self._record(WaitlistPromoted(meeting_id=self.id, member_id=self.waitlist[0]))

    def record_attendance(self, member_id: str, by: str) -> bool:
        """The registrant came; False if it was recorded already (nothing recorded twice)."""
        if self.status != PUBLISHED:
            raise Conflict("Cette réunion n'a pas lieu." if self.status == CANCELLED
                           else "Cette réunion n'est pas publiée.")
        if member_id not in self.confirmed:
            raise invalid("member_id", "Ce membre n'a pas de place confirmée à cette réunion.")
        if member_id in self.attended:
            return False
        self._record(AttendanceRecorded(meeting_id=self.id, member_id=member_id, recorded_by=by))
        return True

    def forget(self, member_id: str, alias: str) -> bool:
        """An erased member: their place stays counted under `alias`; False if they had none here."""
        if self.status_of(member_id) is None and member_id not in self.attended:
            return False
        self._record(RegistrantForgotten(meeting_id=self.id, member_id=member_id, alias=alias))
        return True

    # -- state changes -------------------------------------------------------------
    @applies(MeetingDrafted)
    def _drafted(self, e: MeetingDrafted):
        self._take(e, DRAFT)

    @applies(MeetingPublished)
    def _published(self, e: MeetingPublished):
        self._take(e, PUBLISHED)

    @applies(MeetingChanged)
    def _changed(self, e: MeetingChanged):
        self._take(e, self.status)

    def _take(self, e, status: str) -> None:
        self.status, self.organizer_id = status, e.organizer_id
        self.details = Details(**{f.name: getattr(e, f.name) for f in fields(Details)})

    @applies(MeetingCancelled)
    def _cancelled(self, e: MeetingCancelled):
        self.status = CANCELLED

    @applies(RegistrationConfirmed)
    def _confirmed(self, e: RegistrationConfirmed):
        self.confirmed[e.member_id] = None

    @applies(RegistrationWaitlisted)
    def _waitlisted(self, e: RegistrationWaitlisted):
        self.waitlist.append(e.member_id)

    @applies(WaitlistPromoted)
    def _promoted(self, e: WaitlistPromoted):
        self.waitlist.remove(e.member_id)
        self.confirmed[e.member_id] = None

    @applies(RegistrationCancelled)
    def _left(self, e: RegistrationCancelled):
        self.confirmed.pop(e.member_id, None)
        if e.member_id in self.waitlist:
            self.waitlist.remove(e.member_id)

    @applies(AttendanceRecorded)
    def _attended(self, e: AttendanceRecorded):
        self.attended.add(e.member_id)

    @applies(RegistrantForgotten)
    def _forgotten(self, e: RegistrantForgotten):
        if e.member_id in self.confirmed:
            self.confirmed = {(e.alias if m == e.member_id else m): None for m in self.confirmed}
        self.waitlist = [e.alias if m == e.member_id else m for m in self.waitlist]
        if e.member_id in self.attended:
            self.attended.discard(e.member_id)
            self.attended.add(e.alias)
