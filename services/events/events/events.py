"""The public catalogue of the events service's events (docs/events.md).

Two parts: meetings (and their registrations), then online trainings.
"""
from __future__ import annotations

from dataclasses import dataclass, field  # noqa: F401
from datetime import datetime  # noqa: F401

from umpnet_kernel.events import DomainEvent, describe  # noqa: F401


# -- meetings and registrations --------------------------------------------------
# A meeting is its own stream (`meeting-<id>`); its registrations are recorded on it,
# so the store's optimistic concurrency on that one stream is what keeps the seats
# from being over-booked (domain/meeting.py). Positions are the commune's, never
# the address's. Times are UTC instants; `timezone` says where they are shown.


@dataclass(frozen=True)
class MeetingDrafted(DomainEvent, name="events.MeetingDrafted", version=1, public=False):
    """An organizer saved a meeting as a draft: nobody is told until it is published."""

    meeting_id: str
    organizer_id: str
    title: str
    description: str = field(metadata=describe("Markdown, as typed"))
    description_html: str = field(metadata=describe("the Markdown rendered and sanitised (nh3)"))
    starts_at: datetime
    ends_at: datetime
    timezone: str
    address: str = field(metadata=describe("the meeting place, as the organizer typed it"))
    city: str
    postcode: str
    lat: float = field(metadata=describe("the commune's latitude, never the address's"))
    lon: float = field(metadata=describe("the commune's longitude"))
    federation_code: str | None = field(metadata=describe("local federation; None: national"))
    theme: str
    capacity: int
    online_url: str | None = None
    notify_radius_km: int = 30


@dataclass(frozen=True)
class MeetingPublished(DomainEvent, name="events.MeetingPublished", version=1):
    """A meeting is open to registrations: created and published at once, or a draft published.
    Members within `notify_radius_km` who follow its theme are told (the mailer)."""

    meeting_id: str
    organizer_id: str
    title: str
    description: str = field(metadata=describe("Markdown, as typed"))
    description_html: str = field(metadata=describe("the Markdown rendered and sanitised (nh3)"))
    starts_at: datetime = field(metadata=describe("ISO 8601, with its zone"))
    ends_at: datetime
    timezone: str = field(metadata=describe('where it is shown: "Europe/Paris"'))
    address: str = field(metadata=describe("the meeting place, as the organizer typed it"))
    city: str
    postcode: str
    lat: float = field(metadata=describe("the commune's latitude, never the address's"))
    lon: float = field(metadata=describe("the commune's longitude"))
    federation_code: str | None = field(metadata=describe("local federation; None: national"))
    theme: str
    capacity: int
    online_url: str | None = field(default=None, metadata=describe("online or hybrid meeting: its link"))
    notify_radius_km: int = field(default=30, metadata=describe("members within it who follow the theme are told"))


@dataclass(frozen=True)
class MeetingChanged(DomainEvent, name="events.MeetingChanged", version=1):
    """The organizer edited a meeting: every field as it now stands, and which changed."""

    meeting_id: str
    organizer_id: str
    title: str
    description: str
    description_html: str
    starts_at: datetime
    ends_at: datetime
    timezone: str
    address: str
    city: str
    postcode: str
    lat: float
    lon: float
    federation_code: str | None
    theme: str
    capacity: int
    changed: tuple[str, ...] = field(metadata=describe("names of the fields that changed"))
    status: str = field(default="published", metadata=describe("draft or published"))
    online_url: str | None = None
    notify_radius_km: int = 30


@dataclass(frozen=True)
class MeetingCancelled(DomainEvent, name="events.MeetingCancelled", version=1):
    """The meeting will not take place: its registrants are told."""

    meeting_id: str
    reason: str
    cancelled_by: str = field(metadata=describe("member id of the organizer or admin"))


@dataclass(frozen=True)
class RegistrationConfirmed(DomainEvent, name="events.RegistrationConfirmed", version=1):
    """A member has a seat."""

    meeting_id: str
    member_id: str


@dataclass(frozen=True)
class RegistrationWaitlisted(DomainEvent, name="events.RegistrationWaitlisted", version=1):
    """The meeting was full: the member waits, at `position` (1: next to get a seat)."""

    meeting_id: str
    member_id: str
    position: int


@dataclass(frozen=True)
class WaitlistPromoted(DomainEvent, name="events.WaitlistPromoted", version=1):
    """A seat freed (a registrant left, the capacity grew): the first waiting member has it."""

    meeting_id: str
    member_id: str


@dataclass(frozen=True)
class RegistrationCancelled(DomainEvent, name="events.RegistrationCancelled", version=1):
    """A member unregistered (from a seat or from the waitlist)."""

    meeting_id: str
    member_id: str
    was: str = field(metadata=describe('"confirmed" or "waitlisted"'))


@dataclass(frozen=True)
class AttendanceRecorded(DomainEvent, name="events.AttendanceRecorded", version=1):
    """The organizer recorded that a registrant came (a talent source of members)."""

    meeting_id: str
    member_id: str
    recorded_by: str


@dataclass(frozen=True)
class RegistrantForgotten(DomainEvent, name="events.RegistrantForgotten", version=1, public=False):
    """An erased member (members.MemberErased) is forgotten by a meeting: their seat or
    place in line stays counted under `alias`, a name that leads back to nobody."""

    meeting_id: str
    member_id: str
    alias: str



# (meetings above this line)
#
#
#
#
# (trainings below this line)

# -- online trainings ------------------------------------------------------------

# A course is its own stream (`training-<id>`); a member's enrolment in it too
# (`training-enrolment-<id>`, the id derived from the course and the member, so a
# member enrols in a course once by construction).


@dataclass(frozen=True)
class TrainingContentWritten(DomainEvent, name="events.TrainingContentWritten", public=False):
    """A course's modules as a national admin wrote them, quiz answers included: they
    stay inside the service (recorded just before its `TrainingPublished`)."""

    training_id: str
    description: str = field(metadata=describe("Markdown"))
    modules: tuple[dict, ...] = field(metadata=describe(
        "in order: {module_id, title, body (Markdown), video_url, quiz: null | "
        "[{question, choices: [text], answer: index of the correct choice}]}"))


@dataclass(frozen=True)
class TrainingPublished(DomainEvent, name="events.TrainingPublished", version=1):
    """A national admin published an online course of ordered modules."""

    training_id: str
    title: str
    candidates_only: bool = field(metadata=describe("only members with the candidate role may enrol"))
    module_ids: tuple[str, ...] = field(metadata=describe("the modules, in the order they are completed"))
    published_by: str = field(default="", metadata=describe("member id of the national admin"))


@dataclass(frozen=True)
class TrainingEnrolled(DomainEvent, name="events.TrainingEnrolled", version=1):
    """A member enrolled in a course."""

    training_id: str
    member_id: str


@dataclass(frozen=True)
class ModuleCompleted(DomainEvent, name="events.ModuleCompleted", version=1):
    """An enrolled member completed a module (in order; its quiz, if any, answered right)."""

    training_id: str
    module_id: str
    member_id: str
    completed_count: int = field(default=0, metadata=describe("modules of the course completed so far"))
    module_count: int = field(default=0, metadata=describe("modules in the course"))


@dataclass(frozen=True)
class TrainingCompleted(DomainEvent, name="events.TrainingCompleted", version=1):
    """A member completed the last module of a course: their completion record."""

    training_id: str
    member_id: str
    title: str = field(default="", metadata=describe("the course's title"))


@dataclass(frozen=True)
class TraineeForgotten(DomainEvent, name="events.TraineeForgotten", public=False):
    """The member was erased (members.MemberErased): their enrolments leave the read models."""

    member_id: str
