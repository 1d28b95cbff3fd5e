"""Where talent points come from: a registry of sources, one line each (issue 8 item 7).

    talent_sources.register("members.ContactAccepted", "contacts",
                            credit=lambda e: {e.requester_id: 3, e.addressee_id: 3})

A source is an event name, the breakdown entry it feeds, and `credit(event)`:
{member id: points} ({} for none). `once=True`: a member gets that source's
points the first time only (a profile completed, not every save of it);
`once=lambda e: <key>`: once per key (a contact: once per pair of members, so
removing and accepting again earns nothing).

The event is named, never imported, so a source can be registered before its
event exists. Where it comes from is in the name:

- a `members.*` event is the members service's own: the talents projection
  scores it in the transaction that records it, and a rebuild scores it again
  (`credit` gets the event object);
- any other (`events.AttendanceRecorded`, `debates.ContributionSupported`...) is
  another service's: the members service subscribes to it (`@subscribe`, one
  handler per event name, `service.add_talent_subscribers`), records what it
  credits as a private `members.TalentCredited` event, once per delivered event
  id, and the projection scores that (`credit` gets the event's `data` as
  attributes). A redelivery credits nothing; a rebuild gives the same rows.

Changing a source's points and running `umpnet rebuild members` rescores everyone.

Decay: points lose half their weight every HALF_LIFE. Stored naively, every
score would have to be rewritten as time passes. Instead each credit is stored
"forward-decayed": `points * 2 ** ((t - EPOCH) / HALF_LIFE)`, where t is when
its event occurred. The score now is the stored sum times `2 ** -((now - EPOCH) /
HALF_LIFE)`: one factor shared by every row, so ranking by the stored sum is
ranking by the score now, reading never writes, and a row changes only when its
member is credited. (2 ** x stays within a float for some 250 years after EPOCH.)
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace
from typing import Any, Callable

HALF_LIFE = timedelta(days=90)
EPOCH = datetime(2026, 1, 1, tzinfo=timezone.utc)
OWN_SERVICE = "members"


def aware(moment: datetime) -> datetime:
    """SQLite gives naive UTC datetimes back: the zone they were written with."""
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment


def forward_weight(points: float, occurred_at: datetime) -> float:
    """What `points` credited at `occurred_at` weigh in the stored sums (module docstring)."""
    return points * 2.0 ** ((aware(occurred_at) - EPOCH).total_seconds() / HALF_LIFE.total_seconds())


def decay_factor(now: datetime) -> float:
    """Stored sums times this are the scores at `now`."""
    return 2.0 ** (-(aware(now) - EPOCH).total_seconds() / HALF_LIFE.total_seconds())


@dataclass(frozen=True)
class TalentSource:
    event_name: str
    name: str  # its entry in the breakdown
    credit: Callable[[Any], dict[str, float]]
    once: bool | Callable[[Any], str] = False

    def once_key(self, event) -> str | None:
        """What a member is credited once for by this event, or None (every time)."""
        if callable(self.once):
            return f"{self.name}:{self.once(event)}"
        return self.name if self.once else None

    @property
    def service(self) -> str:
        return self.event_name.split(".", 1)[0]

    @property
    def remote(self) -> bool:
        return self.service != OWN_SERVICE


class TalentSources:
    """The sources, by event name (several may read one event)."""

    def __init__(self):
        self._by_event: dict[str, list[TalentSource]] = {}

    def register(self, event_name: str, name: str, credit: Callable[[Any], dict[str, float]],
                 once: bool | Callable[[Any], str] = False) -> TalentSource:
        if "." not in event_name:
            raise ValueError(f"{event_name!r}: name events as '<service>.<Event>'")
        if any(s.name == name and s.event_name == event_name for s in self._by_event.get(event_name, ())):
            raise ValueError(f"{name!r} already reads {event_name!r}")
        source = TalentSource(event_name, name, credit, once)
        self._by_event.setdefault(event_name, []).append(source)
        return source

    def copy(self) -> "TalentSources":
        """Another registry with the same sources (to add some in a test)."""
        copied = TalentSources()
        copied._by_event = {name: list(sources) for name, sources in self._by_event.items()}
        return copied

    def for_event(self, event_name: str) -> list[TalentSource]:
        return self._by_event.get(event_name, [])

    def by_name(self, name: str) -> TalentSource | None:
        return next((s for sources in self._by_event.values() for s in sources if s.name == name), None)

    def local_event_names(self) -> list[str]:
        return [n for n, sources in self._by_event.items() if not sources[0].remote]

    def remote_event_names(self) -> list[str]:
        return [n for n, sources in self._by_event.items() if sources[0].remote]

    def credits(self, event_name: str, event: Any) -> dict[str, dict]:
        """{source name: {"points": {member id: points}, "once": key or None}} of one event
        (a remote one's `data` may be a dict)."""
        if isinstance(event, dict):
            event = SimpleNamespace(**event)
        found = {}
        for source in self.for_event(event_name):
            credited = {member: float(points) for member, points in (source.credit(event) or {}).items()
                        if member and points}
            if credited:
                found[source.name] = {"points": credited, "once": source.once_key(event)}
        return found


def _profile_complete(e) -> bool:
    return bool(e.bio.strip() and e.themes and e.skills)


# -- the sources: one line each ----------------------------------------------------
talent_sources = TalentSources()
talent_sources.register("members.ContactAccepted", "contacts", once=lambda e: e.contact_id,
                        credit=lambda e: {e.requester_id: 3, e.addressee_id: 3})
talent_sources.register("members.ProfileUpdated", "profile", once=True,
                        credit=lambda e: {e.member_id: 10} if _profile_complete(e) else {})
talent_sources.register("members.ProfileUpdated", "blog", once=True,
                        credit=lambda e: {e.member_id: 5} if e.blog_url else {})
# Once per new member: whatever path records their acceptance, one sign-up credits once.
talent_sources.register("members.InvitationAccepted", "invitations", once=lambda e: e.member_id,
                        credit=lambda e: {e.inviter_id: 10})
# Other services' events (received over RabbitMQ, credited once per event):
# A petition counts for its author once open: at once for an admin's, when published for a proposal or a draft.
talent_sources.register("petitions.PetitionLaunched", "petitions_launched", once=lambda e: e.petition_id,
                        credit=lambda e: {e.author_id: 10} if e.status == "open" else {})
talent_sources.register("petitions.PetitionPublished", "petitions_launched", once=lambda e: e.petition_id,
                        credit=lambda e: {e.author_id: 10})
talent_sources.register("petitions.SignatureConfirmed", "signatures_brought",
                        credit=lambda e: {e.referred_by: 1} if e.referred_by else {})
# A meeting attended (recorded by its organizer): once per meeting.
talent_sources.register("events.AttendanceRecorded", "attendance", once=lambda e: e.meeting_id,
                        credit=lambda e: {e.member_id: 2})
# A completed online training (events service): once per course and member.
talent_sources.register("events.TrainingCompleted", "trainings", once=lambda e: e.training_id,
                        credit=lambda e: {e.member_id: 5})
# Debates: a contribution posted; each +1 its author receives, once per voter and contribution.
talent_sources.register("debates.ContributionPosted", "contributions", credit=lambda e: {e.author_id: 1})
talent_sources.register("debates.SupportGiven", "support_received", once=lambda e: f"{e.contribution_id}:{e.member_id}",
                        credit=lambda e: {e.author_id: 1} if e.value == 1 else {})
