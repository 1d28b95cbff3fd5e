"""Meetings, their seats, waitlist and calendars: the use cases, with the app of the
module that collects them (in memory in tests/unit, SQLite and PostgreSQL in
tests/integration). The clock is the test's (`Clock`)."""
from datetime import datetime, timedelta, timezone

import pytest
from icalendar import Calendar

from events.application import MeetingsApp
from events.commands import CancelMeeting, CreateMeeting, EditMeeting, RecordAttendance
from events.events import (
    AttendanceRecorded, MeetingChanged, MeetingPublished, RegistrationCancelled, RegistrationConfirmed,
    RegistrationWaitlisted, WaitlistPromoted,
)
from umpnet_kernel.errors import Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed
from umpnet_kernel.events import Context
from umpnet_kernel.messages import IncomingEvent

SECRET = "meetings-test-secret"
NOW = datetime(2026, 12, 3, 9, 0, tzinfo=timezone.utc)
ORGANIZER = Context(actor_id="org-1", actor_roles=("member", "organizer"), actor_federation="75")
OTHER_ORGANIZER = Context(actor_id="org-2", actor_roles=("member", "organizer"), actor_federation="75")
FED_75 = Context(actor_id="fed-75", actor_roles=("member", "federation_admin"), actor_federation="75")
FED_13 = Context(actor_id="fed-13", actor_roles=("member", "federation_admin"), actor_federation="13")
NATIONAL = Context(actor_id="nat-1", actor_roles=("member", "national_admin"), actor_federation="69")
ANONYMOUS = Context()


def member(n) -> Context:
    return Context(actor_id=f"mem-{n}", actor_roles=("member",), actor_federation="75")


class Clock:
    def __init__(self, now=NOW):
        self.moment = now

    def __call__(self):
        return self.moment


def build_app(db, clock=None):
    return MeetingsApp(db, SECRET, clock=clock or Clock())


def creating(**changes) -> CreateMeeting:
    fields = dict(title="Réunion publique sur l'école", description="Venez **nombreux**.",
                  starts_at="2026-12-10T18:30:00+01:00", ends_at="2026-12-10T20:30:00+01:00",
                  address="12 rue de la Roquette", postcode="75011", capacity=3, theme="education",
                  federation_code="75")
    fields.update(changes)
    return CreateMeeting(**fields)


def create(app, context=ORGANIZER, **changes) -> dict:
    return app.create(creating(**changes), context)


class Outbox:
    def __init__(self, app):
        self.recorded = []
        app.on_commit(self.recorded.extend)

    def of(self, event_type):
        return [r.event for r in self.recorded if isinstance(r.event, event_type)]


def refused_fields(excinfo) -> set:
    return set(excinfo.value.fields)


# -- creating ---------------------------------------------------------------------
def test_an_organizer_creates_a_published_meeting_at_the_commune(app):
    outbox = Outbox(app)
    meeting = create(app)
    assert meeting["status"] == "published" and meeting["seats_left"] == 3
    assert meeting["city"].startswith("Paris") and meeting["postcode"] == "75011"
    assert meeting["description_html"] == "<p>Venez <strong>nombreux</strong>.</p>\n"
    published = outbox.of(MeetingPublished)[0]
    assert published.timezone == "Europe/Paris" and published.federation_code == "75"
    assert published.starts_at == datetime(2026, 12, 10, 17, 30, tzinfo=timezone.utc)
    assert published.notify_radius_km == 30


def test_a_description_cannot_carry_a_script(app):
    meeting = create(app, description='<script>alert(1)</script> [x](javascript:alert(1)) <b onclick="x">b</b>')
    html = meeting["description_html"]
    assert "<script" not in html and "href=\"javascript" not in html and "<b onclick" not in html


def test_bad_meetings_are_refused_field_by_field_and_nothing_is_recorded(app):
    outbox = Outbox(app)
    with pytest.raises(ValidationFailed) as refused:
        create(app, starts_at="2026-12-01T18:00:00+01:00", ends_at="2026-11-30T18:00:00+01:00", capacity=0,
               postcode="00000", theme="astrologie")
    assert {"starts_at", "ends_at", "capacity", "postcode", "theme"} <= refused_fields(refused)
    with pytest.raises(ValidationFailed) as refused:
        create(app, capacity=-5)
    assert refused_fields(refused) == {"capacity"}
    with pytest.raises(ValidationFailed) as refused:
        create(app, starts_at="2026-12-10T18:30:00")
    assert refused_fields(refused) == {"starts_at"}
    assert outbox.recorded == []


def test_only_organizers_and_admins_create_and_locally_only_in_their_federation(app):
    with pytest.raises(Forbidden):
        create(app, member(1))
    with pytest.raises(Unauthorized):
        create(app, ANONYMOUS)
    with pytest.raises(Forbidden):
        create(app, FED_13, federation_code="75")
    assert create(app, FED_13, federation_code="13", postcode="13001")["federation"] == "13"
    assert create(app, NATIONAL, federation_code="75")["federation"] == "75"
    assert create(app, NATIONAL, federation_code=None)["scope"] == "national"


def test_a_creator_who_names_no_federation_creates_in_their_own_unless_national_admin(app):
    assert create(app, ORGANIZER, federation_code=None)["federation"] == "75"
    assert create(app, FED_13, federation_code=None, postcode="13001")["federation"] == "13"
    assert create(app, NATIONAL, federation_code=None)["federation"] is None
    with pytest.raises(Forbidden):  # an organizer of no federation: no national meeting either
        create(app, Context(actor_id="org-x", actor_roles=("member", "organizer")), federation_code=None)


def test_a_draft_is_hidden_until_published(app):
    outbox = Outbox(app)
    draft = create(app, draft=True)
    assert draft["status"] == "draft" and outbox.of(MeetingPublished) == []
    with pytest.raises(NotFound):
        app.meeting(draft["id"], member(1))
    with pytest.raises(NotFound):
        app.register(draft["id"], member(1))
    assert app.list_meetings(ANONYMOUS)["items"] == []
    assert app.publish(draft["id"], ORGANIZER)["status"] == "published"
    assert len(outbox.of(MeetingPublished)) == 1
    with pytest.raises(Conflict):
        app.publish(draft["id"], ORGANIZER)


# -- editing and cancelling ----------------------------------------------------------
def test_the_organizer_edits_and_the_event_says_what_changed(app):
    outbox = Outbox(app)
    meeting = create(app)
    edited = app.edit(EditMeeting(meeting["id"], title="École : réunion publique", capacity=5), ORGANIZER)
    assert edited["title"] == "École : réunion publique" and edited["capacity"] == 5
    changed = outbox.of(MeetingChanged)[-1]
    assert set(changed.changed) == {"title", "capacity"} and changed.city == meeting["city"]


def test_an_edit_asks_the_geocoder_before_its_transaction_and_only_for_a_new_postcode(app, monkeypatch):
    meeting = create(app)
    asked, writing = [], []
    locate, execute = app.locator.locate, app.execute
    monkeypatch.setattr(app.locator, "locate", lambda postcode: asked.append((postcode, bool(writing))) or
                        locate(postcode))

    def spied(context, command):
        writing.append(True)
        try:
            return execute(context, command)
        finally:
            writing.pop()

    monkeypatch.setattr(app, "execute", spied)
    assert app.edit(EditMeeting(meeting["id"], title="Autre titre"), ORGANIZER)["city"] == meeting["city"]
    assert asked == []
    moved = app.edit(EditMeeting(meeting["id"], postcode="13001"), ORGANIZER)
    assert asked == [("13001", False)] and moved["city"] != meeting["city"]
    with pytest.raises(ValidationFailed) as refused:
        app.edit(EditMeeting(meeting["id"], postcode="00000", capacity=0), ORGANIZER)
    assert refused_fields(refused) == {"postcode", "capacity"}


def test_only_its_organizer_or_its_federations_admins_manage_a_meeting(app):
    meeting = create(app)
    for stranger in (OTHER_ORGANIZER, FED_13, member(1)):
        with pytest.raises(Forbidden):
            app.edit(EditMeeting(meeting["id"], title="Autre"), stranger)
        with pytest.raises(Forbidden):
            app.cancel(CancelMeeting(meeting["id"]), stranger)
        with pytest.raises(Forbidden):
            app.registrants(meeting["id"], stranger)
    assert app.edit(EditMeeting(meeting["id"], title="Par la fédération"), FED_75)["title"] == "Par la fédération"
    assert app.registrants(meeting["id"], NATIONAL)["items"] == []


def test_capacity_cannot_go_below_the_confirmed_count(app):
    meeting = create(app, capacity=3)
    for n in range(3):
        app.register(meeting["id"], member(n))
    with pytest.raises(ValidationFailed) as refused:
        app.edit(EditMeeting(meeting["id"], capacity=2), ORGANIZER)
    assert refused_fields(refused) == {"capacity"}
    assert app.meeting(meeting["id"], ORGANIZER)["capacity"] == 3


def test_a_cancelled_meeting_takes_no_registration(app):
    meeting = create(app)
    assert app.cancel(CancelMeeting(meeting["id"], "Salle indisponible"), ORGANIZER)["status"] == "cancelled"
    with pytest.raises(Conflict):
        app.register(meeting["id"], member(1))
    with pytest.raises(Conflict):
        app.cancel(CancelMeeting(meeting["id"]), ORGANIZER)
    with pytest.raises(Conflict):
        app.edit(EditMeeting(meeting["id"], title="Encore"), ORGANIZER)


# -- registering ---------------------------------------------------------------------
def test_beyond_capacity_members_wait_in_order_and_a_freed_seat_promotes_the_first(app):
    outbox = Outbox(app)
    meeting = create(app, capacity=2)
    answers = [app.register(meeting["id"], member(n))["status"] for n in range(5)]
    assert answers == ["confirmed", "confirmed", "waitlisted", "waitlisted", "waitlisted"]
    assert [e.position for e in outbox.of(RegistrationWaitlisted)] == [1, 2, 3]
    assert app.meeting(meeting["id"], ANONYMOUS)["seats_left"] == 0
    assert app.unregister(meeting["id"], member(0))["was"] == "confirmed"
    assert [e.member_id for e in outbox.of(WaitlistPromoted)] == ["mem-2"]
    listed = app.registrants(meeting["id"], ORGANIZER)["items"]
    assert [(r["member_id"], r["status"]) for r in listed] == [
        ("mem-1", "confirmed"), ("mem-2", "confirmed"), ("mem-3", "waitlisted"), ("mem-4", "waitlisted")]
    assert [r.get("position") for r in listed] == [None, None, 1, 2]
    assert app.meeting(meeting["id"], member(4))["my_registration"] == {"status": "waitlisted", "attended": False,
                                                                       "position": 2}
    assert app.unregister(meeting["id"], member(3))["was"] == "waitlisted"
    assert len(outbox.of(WaitlistPromoted)) == 1  # leaving the waitlist frees no seat
    assert outbox.of(RegistrationCancelled)[-1].was == "waitlisted"


def test_a_larger_capacity_seats_those_who_wait(app):
    outbox = Outbox(app)
    meeting = create(app, capacity=1)
    for n in range(3):
        app.register(meeting["id"], member(n))
    app.edit(EditMeeting(meeting["id"], capacity=3), ORGANIZER)
    assert [e.member_id for e in outbox.of(WaitlistPromoted)] == ["mem-1", "mem-2"]
    assert app.meeting(meeting["id"], ANONYMOUS)["seats_left"] == 0


def test_registering_twice_is_a_conflict_and_changes_nothing(app):
    outbox = Outbox(app)
    meeting = create(app)
    app.register(meeting["id"], member(1))
    with pytest.raises(Conflict):
        app.register(meeting["id"], member(1))
    assert len(outbox.of(RegistrationConfirmed)) == 1
    with pytest.raises(Unauthorized):
        app.register(meeting["id"], ANONYMOUS)
    with pytest.raises(NotFound):
        app.unregister(meeting["id"], member(2))
    with pytest.raises(NotFound):
        app.register("no-such-meeting", member(1))


def test_a_meeting_that_started_takes_no_registration():
    from umpnet_kernel.testing import in_memory
    from events.projections import read_models
    from umpnet_kernel.idempotency import outcomes_metadata

    clock = Clock()
    app = in_memory(lambda db: build_app(db, clock), read_models, outcomes_metadata)
    meeting = create(app)
    clock.moment = NOW + timedelta(days=8)  # 2026-12-11: the meeting is over
    with pytest.raises(Conflict):
        app.register(meeting["id"], member(1))
    assert app.meeting(meeting["id"], ANONYMOUS)["status"] == "past"
    assert app.list_meetings(ANONYMOUS)["items"] == []
    app.db.dispose()


def test_the_organizer_records_attendance_once(app):
    outbox = Outbox(app)
    meeting = create(app)
    app.register(meeting["id"], member(1))
    with pytest.raises(Forbidden):
        app.record_attendance(RecordAttendance(meeting["id"], "mem-1"), member(1))
    with pytest.raises(ValidationFailed):
        app.record_attendance(RecordAttendance(meeting["id"], "mem-9"), ORGANIZER)
    app.record_attendance(RecordAttendance(meeting["id"], "mem-1"), ORGANIZER)
    app.record_attendance(RecordAttendance(meeting["id"], "mem-1"), ORGANIZER)
    assert [(e.member_id, e.recorded_by) for e in outbox.of(AttendanceRecorded)] == [("mem-1", "org-1")]
    assert app.registrants(meeting["id"], ORGANIZER)["items"][0]["attended"] is True


# -- finding -----------------------------------------------------------------------------
def test_meetings_near_a_postcode_by_date_or_by_distance(app):
    paris = create(app, title="Paris", starts_at="2026-12-12T18:00:00+01:00", ends_at="2026-12-12T20:00:00+01:00")
    versailles = create(app, NATIONAL, title="Versailles", postcode="78000", federation_code=None,
                        starts_at="2026-12-11T18:00:00+01:00", ends_at="2026-12-11T20:00:00+01:00")
    create(app, NATIONAL, title="Marseille", postcode="13001", federation_code=None, theme="sante")
    near = app.list_meetings(ANONYMOUS, postcode="75011", radius_km="30")
    assert [m["title"] for m in near["items"]] == ["Versailles", "Paris"]
    by_distance = app.list_meetings(ANONYMOUS, postcode="75011", radius_km="30", sort="distance")
    assert [m["title"] for m in by_distance["items"]] == ["Paris", "Versailles"]
    assert by_distance["items"][0]["distance_km"] < by_distance["items"][1]["distance_km"]
    assert [m["id"] for m in app.list_meetings(ANONYMOUS, federation="75")["items"]] == [paris["id"]]
    assert [m["title"] for m in app.list_meetings(ANONYMOUS, theme="sante")["items"]] == ["Marseille"]
    first = app.list_meetings(ANONYMOUS, postcode="75011", limit=1)
    assert [m["id"] for m in first["items"]] == [versailles["id"]] and first["next_cursor"]
    second = app.list_meetings(ANONYMOUS, postcode="75011", limit=1, cursor=first["next_cursor"])
    assert [m["id"] for m in second["items"]] == [paris["id"]] and second["next_cursor"] is None
    item = near["items"][0]
    assert {"id", "title", "starts_at", "ends_at", "city", "lat", "lon", "capacity", "seats_left", "federation",
            "theme", "status"} <= set(item)


def test_bad_filters_are_refused(app):
    for filters, field in (({"postcode": "00000"}, "postcode"), ({"theme": "x"}, "theme"),
                           ({"radius_km": "-3", "postcode": "75011"}, "radius_km"), ({"sort": "price"}, "sort"),
                           ({"federation": "ZZ"}, "federation"), ({"start": "hier"}, "from"),
                           ({"radius_km": "30"}, "radius_km"), ({"radius_km": "30", "federation": "75"}, "radius_km")):
        with pytest.raises(ValidationFailed) as refused:
            app.list_meetings(ANONYMOUS, **filters)
        assert refused_fields(refused) == {field}


# -- calendars -----------------------------------------------------------------------------
def test_a_meetings_ics_reads_back_in_paris_time(app):
    meeting = create(app)
    parsed = Calendar.from_ical(app.meeting_ics(meeting["id"], ANONYMOUS, "https://umpnet.example"))
    event = next(iter(parsed.walk("VEVENT")))
    start = event.decoded("dtstart")
    assert str(start.tzinfo) == "Europe/Paris" and (start.hour, start.minute) == (18, 30)
    assert start == datetime(2026, 12, 10, 17, 30, tzinfo=timezone.utc)
    assert str(event["summary"]) == meeting["title"]
    assert str(event["url"]) == f"https://umpnet.example/reunions/{meeting['id']}"
    assert [tz["tzid"] for tz in parsed.walk("VTIMEZONE")] == ["Europe/Paris"]


def test_my_calendar_feed_lists_my_meetings_under_a_secret_key(app):
    first, second = create(app, title="Un"), create(app, title="Deux")
    app.register(first["id"], member(1))
    app.register(second["id"], member(2))
    key = app.calendar_feed_key(member(1))["key"]
    assert "mem-1" not in key
    parsed = Calendar.from_ical(app.calendar_feed(key))
    assert [str(e["summary"]) for e in parsed.walk("VEVENT")] == ["Un"]
    assert list(Calendar.from_ical(app.calendar_feed("not-a-key")).walk("VEVENT")) == []


# -- privacy ---------------------------------------------------------------------------------
def test_an_erased_member_leaves_their_seat_counted_and_their_name_nowhere(app):
    meeting = create(app, capacity=1)
    app.register(meeting["id"], member(1))
    app.register(meeting["id"], member(2))
    assert app.export_personal_data("mem-1")["meeting_registrations"][0]["status"] == "confirmed"
    erased = IncomingEvent(event_id="e-1", event_type="members.MemberErased", schema_version=1,
                           stream_id="member-mem-1", stream_version=9, position=1, occurred_at=NOW, actor_id=None,
                           correlation_id=None, causation_id=None, data={"member_id": "mem-1"},
                           payload={"member_id": "mem-1"})
    app.member_erased(erased)
    app.member_erased(erased)  # redelivered: nothing more
    assert app.export_personal_data("mem-1")["meeting_registrations"] == []
    listed = app.registrants(meeting["id"], ORGANIZER)["items"]
    assert [r["status"] for r in listed] == ["confirmed", "waitlisted"]
    assert all(r["member_id"] != "mem-1" for r in listed)
    assert app.meeting(meeting["id"], ANONYMOUS)["seats_left"] == 0
    assert app.my_meetings("mem-1")["items"] == []


def test_a_batch_of_registrations_is_decided_in_order_each_answered_alone(app):
    outbox = Outbox(app)
    meeting = create(app, capacity=2)
    answers = app.register_many([(meeting["id"], "mem-1"), (meeting["id"], "mem-1"), ("no-such", "mem-2"),
                                 (meeting["id"], "mem-2"), (meeting["id"], "mem-3"), (meeting["id"], "")], ANONYMOUS)
    assert [a.get("ok", {}).get("status") or a["error"]["type"] for a in answers] == [
        "confirmed", "Conflict", "NotFound", "confirmed", "waitlisted", "Unauthorized"]
    assert answers[4]["ok"]["position"] == 1
    assert len(outbox.of(RegistrationConfirmed)) == 2 and len(outbox.of(RegistrationWaitlisted)) == 1


def test_a_batch_delivered_again_answers_its_first_outcome(app):
    outbox = Outbox(app)
    meeting = create(app, capacity=1)
    call = Context(idempotency_key="batch-1")
    batch = [(meeting["id"], "mem-1"), (meeting["id"], "mem-2")]
    first = app.register_many(batch, call)
    assert [a["ok"]["status"] for a in first] == ["confirmed", "waitlisted"]
    assert app.register_many(batch, call) == first  # redelivered after its commit: not "déjà inscrit"
    assert len(outbox.of(RegistrationConfirmed)) == 1 and len(outbox.of(RegistrationWaitlisted)) == 1
    again = app.register_many(batch, Context(idempotency_key="batch-2"))  # another call: decided anew
    assert [a["error"]["type"] for a in again] == ["Conflict", "Conflict"]


def test_a_dense_neighbourhood_is_read_in_date_order_with_the_same_pages(app, monkeypatch):
    from events import projections

    days = [12, 11, 14, 13, 15]
    for n, day in enumerate(days):
        create(app, title=f"R{n}", postcode=("75011", "78000", "75003", "13001", "93100")[n], federation_code=None,
               starts_at=f"2026-12-{day}T18:00:00+01:00", ends_at=f"2026-12-{day}T20:00:00+01:00")

    def pages(limit):
        titles, cursor = [], None
        while True:
            page = app.list_meetings(ANONYMOUS, postcode="75011", radius_km="30", limit=limit, cursor=cursor)
            titles += [m["title"] for m in page["items"]]
            cursor = page["next_cursor"]
            if not cursor:
                return titles

    sparse = pages(2)
    monkeypatch.setattr(projections, "DENSE_BOX", 0)
    monkeypatch.setattr(projections, "_CHUNK", 1)
    assert pages(2) == sparse == pages(1) == ["R1", "R0", "R2", "R4"]


def test_a_forged_cursor_is_a_bad_cursor_not_an_error(app, monkeypatch):
    from events import projections
    from umpnet_kernel.paging import BadCursor, encode_cursor

    create(app)
    forged = {"date": [encode_cursor(["pas une date", "x"]), encode_cursor(["2026-12-10T18:00:00", "x"])],
              "distance": [encode_cursor([float("nan"), "x"]), encode_cursor(["1.5", "x"])]}
    for dense in (False, True):
        if dense:
            monkeypatch.setattr(projections, "DENSE_BOX", 0)
        for sort, cursors in forged.items():
            for cursor in cursors:
                with pytest.raises(BadCursor):
                    app.list_meetings(ANONYMOUS, postcode="75011", sort=sort, cursor=cursor)


def test_nearest_first_pages_the_same_however_the_rings_are_read(app, monkeypatch):
    from events import projections

    for n, postcode in enumerate(("78000", "75011", "93100", "75003", "92100", "13001")):
        create(app, title=f"R{n}", postcode=postcode, federation_code=None)

    def pages(limit):
        titles, cursor = [], None
        while True:
            page = app.list_meetings(ANONYMOUS, postcode="75011", radius_km="30", sort="distance", limit=limit,
                                     cursor=cursor)
            titles += [m["title"] for m in page["items"]]
            distances = [m["distance_km"] for m in page["items"]]
            assert distances == sorted(distances)
            cursor = page["next_cursor"]
            if not cursor:
                return titles

    everything = pages(50)
    assert everything[0] == "R1" and "R5" not in everything and len(everything) == 5
    assert pages(1) == pages(2) == everything
    monkeypatch.setattr(projections, "DENSE_BOX", 0)
    assert pages(1) == everything
