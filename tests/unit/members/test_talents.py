"""Talents (talent_cases.py) on the in-memory database; the registry and the
subscription wiring of other services' events (service.add_talent_subscribers)."""
import pytest
from nameko.testing.services import worker_factory

from members.application import MembersApp
from members.projections import read_models
from members.service import MembersService, add_talent_subscribers
from members.talent_sources import TalentSources, talent_sources
from members.throttle import throttle_metadata
from umpnet_kernel.events import Context, DomainEvent, UnknownEventType
from umpnet_kernel.messages import IncomingEvent, PermanentFailure
from umpnet_kernel.nameko import subscriptions_of
from umpnet_kernel.testing import in_memory

from .talent_cases import *  # noqa: F401,F403 (the scenarios, collected here)
from .talent_cases import NATIONAL, SOURCES, at_recording_time, contacts, incoming, scores
from .use_cases import SECRET


pytestmark = pytest.mark.usefixtures("quick_password_hashing")


@pytest.fixture
def app():
    app = in_memory(lambda db: MembersApp(db, SECRET, sources=SOURCES), read_models, throttle_metadata)
    yield app
    app.db.dispose()


def test_a_source_is_one_line_and_names_its_event():
    sources = TalentSources()
    sources.register("debates.ContributionSupported", "support", credit=lambda e: {e.author_id: 1})
    sources.register("members.ContactAccepted", "contacts", credit=lambda e: {e.requester_id: 3})
    assert sources.remote_event_names() == ["debates.ContributionSupported"]
    assert sources.local_event_names() == ["members.ContactAccepted"]
    assert sources.credits("debates.ContributionSupported", {"author_id": "m1", "other": 0}) == {
        "support": {"points": {"m1": 1.0}, "once": None}}
    sources.register("debates.DebateOpened", "debates", once=lambda e: e.debate_id, credit=lambda e: {e.by: 2})
    sources.register("debates.DebateOpened", "first-debate", once=True, credit=lambda e: {e.by: 5})
    assert sources.credits("debates.DebateOpened", {"debate_id": "d1", "by": "m1"}) == {
        "debates": {"points": {"m1": 2.0}, "once": "debates:d1"},
        "first-debate": {"points": {"m1": 5.0}, "once": "first-debate"}}
    with pytest.raises(ValueError):
        sources.register("ContactAccepted", "x", credit=lambda e: {})
    with pytest.raises(ValueError):
        sources.register("members.ContactAccepted", "contacts", credit=lambda e: {})


def test_the_petitions_sources_are_the_members_subscriptions_to_petitions_events():
    """Petitions launched and signatures brought by a share link: one subscription per event name."""
    remote = ["petitions.PetitionLaunched", "petitions.PetitionPublished", "petitions.SignatureConfirmed"]
    assert [name for name in talent_sources.remote_event_names() if name.startswith("petitions.")] == remote
    subscribed = [(s.source_service, s.event_type) for s in subscriptions_of(MembersService)
                  if s.method.startswith("on_talent_") and s.source_service == "petitions"]
    assert subscribed == [("petitions", name) for name in remote]


def test_contributions_and_the_support_they_receive_are_credited_to_their_author():
    posted = {"contribution_id": "c1", "author_id": "a1", "member_id": None}
    assert talent_sources.credits("debates.ContributionPosted", posted)["contributions"]["points"] == {"a1": 1}
    support = {"contribution_id": "c1", "member_id": "v1", "author_id": "a1", "value": 1, "previous": 0}
    credited = talent_sources.credits("debates.SupportGiven", support)["support_received"]
    assert credited["points"] == {"a1": 1} and credited["once"] == "support_received:c1:v1"
    assert talent_sources.credits("debates.SupportGiven", {**support, "value": -1}) == {}
    subscribed = {(s.source_service, s.event_type) for s in subscriptions_of(MembersService)
                  if s.method.startswith("on_talent_")}
    assert {("debates", "debates.ContributionPosted"), ("debates", "debates.SupportGiven")} <= subscribed


def test_a_meeting_attended_is_a_source():
    assert ("events", "events.AttendanceRecorded") in [(s.source_service, s.event_type) for s in subscriptions_of(
        MembersService) if s.method.startswith("on_talent_")]
    assert talent_sources.credits("events.AttendanceRecorded", {"meeting_id": "m1", "member_id": "a"}) == {
        "attendance": {"points": {"a": 2.0}, "once": "attendance:m1"}}


def test_a_completed_training_credits_its_member_once_per_course():
    assert ("events", "events.TrainingCompleted") in [(s.source_service, s.event_type)
                                                      for s in subscriptions_of(MembersService)]
    credits = talent_sources.credits("events.TrainingCompleted", {"training_id": "t1", "member_id": "m1"})
    assert credits["trainings"]["points"] == {"m1": 5}


def test_the_petitions_sources_credit_authors_once_open_and_referrers_per_signature():
    launched = {"petition_id": "p1", "author_id": "a1", "status": "open"}
    assert talent_sources.credits("petitions.PetitionLaunched", launched)["petitions_launched"]["points"] == {"a1": 10}
    assert talent_sources.credits("petitions.PetitionLaunched", {**launched, "status": "proposed"}) == {}
    published = {"petition_id": "p1", "author_id": "a1", "published_by": "n1"}
    assert talent_sources.credits("petitions.PetitionPublished", published)["petitions_launched"]["points"] == {"a1": 10}
    signed = {"signature_id": "s1", "petition_id": "p1", "federation_code": "75", "referred_by": "r1"}
    assert talent_sources.credits("petitions.SignatureConfirmed", signed)["signatures_brought"]["points"] == {"r1": 1}
    assert talent_sources.credits("petitions.SignatureConfirmed", {**signed, "referred_by": None}) == {}


def test_a_registered_remote_source_is_a_kernel_subscription_and_its_handler_is_idempotent(app):
    class Scored(MembersService):
        name = "members"

    add_talent_subscribers(Scored, SOURCES)
    inherited = {s.method for s in subscriptions_of(MembersService)}
    found = [s for s in subscriptions_of(Scored) if s.method.startswith("on_talent_") and s.method not in inherited]
    assert sorted((s.source_service, s.event_type, s.method) for s in found) == [
        ("events", "events.ExampleAttended", "on_talent_events_ExampleAttended"),
        ("events", "events.ExampleBrought", "on_talent_events_ExampleBrought")]
    assert "on_talent_events_ExampleAttended" not in inherited

    at_recording_time(app)
    camille = verified_member(app)
    service = worker_factory(Scored, app=app, context=Context())
    envelope = {"event_id": "11111111-1111-4111-8111-111111111111", "event_type": "events.ExampleAttended",
                "schema_version": 1, "stream_id": "meeting-1", "stream_version": 3, "position": 7,
                "occurred_at": datetime_now_iso(), "data": {"member_id": camille, "meeting_id": "r1"}}
    for _ in range(2):  # delivered twice (at least once); the subscription hands over what is waiting, a list
        service.on_talent_events_ExampleAttended([IncomingEvent.from_envelope(envelope)])
    assert scores(app) == {camille: (2.0, {"attendance": 2.0})}
    broken = IncomingEvent.from_envelope({**envelope, "event_id": "other", "data": {"meeting_id": "r1"}})
    with pytest.raises(PermanentFailure):  # parked: no retry can add the missing field
        service.on_talent_events_ExampleAttended([broken])


def test_a_source_registered_before_its_event_exists_is_ignored_until_then(app):
    sources = talent_sources.copy()
    sources.register("members.SomethingNotYetWritten", "future", credit=lambda e: {e.member_id: 1})
    with pytest.raises(UnknownEventType):
        DomainEvent.lookup("members.SomethingNotYetWritten")
    other = in_memory(lambda db: MembersApp(db, SECRET, sources=sources), read_models, throttle_metadata)
    try:
        other.rebuild_read_models()  # the projection asks for the types it handles: no error
    finally:
        other.db.dispose()


def test_an_accepted_invitation_credits_the_inviter(app):
    from members.events import InvitationAccepted

    inviter = verified_member(app)
    at_recording_time(app)
    # as the invitations use case records it
    app.execute(Context(), lambda uow: uow.append("invitation-1", 0, [InvitationAccepted(
        invitation_id="i1", inviter_id=inviter, member_id="someone")]))
    assert scores(app) == {inviter: (10.0, {"invitations": 10.0})}


def verified_member(app):
    from .contact_cases import member

    return member(app, "camille@example.org", "Camille")


def datetime_now_iso():
    from datetime import datetime, timezone

    return datetime.now(timezone.utc).isoformat()
