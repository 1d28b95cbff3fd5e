"""The meetings use cases (tests/unit/meetings/meeting_cases.py) on SQLite and
PostgreSQL, migrated; and the capacity guarantee under concurrency."""
import eventlet
import pytest

from events.events import RegistrationConfirmed, RegistrationWaitlisted, WaitlistPromoted
from umpnet_kernel.database import Database

from tests.unit.meetings.meeting_cases import *  # noqa: F401,F403 (the scenarios, collected here)
from tests.unit.meetings.meeting_cases import ORGANIZER, Outbox, build_app, create, member


@pytest.fixture(params=["sqlite", "postgresql"])
def app(request, migrated_url):
    db = Database(migrated_url("events", request.param))
    yield build_app(db)
    db.dispose()


def test_many_members_taking_the_last_seats_at_once_never_overbook(app):
    """60 greenthreads register at once for 10 seats: exactly 10 confirmed, 50 waiting in the
    order their appends won (positions 1..50, no gap, no double), and nobody lost."""
    outbox = Outbox(app)
    meeting = create(app, capacity=10)
    answers, errors = {}, []

    def register(n):
        try:
            answers[n] = app.register(meeting["id"], member(n))["status"]
        except Exception as exc:  # noqa: BLE001 (collected, asserted below)
            errors.append(exc)

    pool = eventlet.GreenPool(60)
    for n in range(60):
        pool.spawn(register, n)
    pool.waitall()
    assert errors == []
    assert sorted(answers.values()).count("confirmed") == 10 and len(answers) == 60
    assert len(outbox.of(RegistrationConfirmed)) == 10
    assert [e.position for e in outbox.of(RegistrationWaitlisted)] == list(range(1, 51))
    view = app.meeting(meeting["id"], ORGANIZER)
    assert (view["seats_left"], view["confirmed_count"], view["waitlist_count"]) == (0, 10, 50)
    listed = app.registrants(meeting["id"], ORGANIZER, limit=500)["items"]
    assert [r["status"] for r in listed].count("confirmed") == 10 and len(listed) == 60
    waiting = [r["member_id"] for r in listed if r["status"] == "waitlisted"]
    assert waiting == [e.member_id for e in outbox.of(RegistrationWaitlisted)]

    # Ten leave at once: the first ten who wait get their seats, in order, and no seat is given twice.
    confirmed = [r["member_id"] for r in listed if r["status"] == "confirmed"]
    pool = eventlet.GreenPool(10)
    for member_id in confirmed:
        pool.spawn(app.unregister, meeting["id"], member(int(member_id.split("-")[1])))
    pool.waitall()
    assert [e.member_id for e in outbox.of(WaitlistPromoted)] == waiting[:10]
    view = app.meeting(meeting["id"], ORGANIZER)
    assert (view["seats_left"], view["confirmed_count"], view["waitlist_count"]) == (0, 10, 40)


def test_rebuilding_the_read_models_gives_the_same_rows(app):
    meeting = create(app, capacity=1)
    for n in range(3):
        app.register(meeting["id"], member(n))
    app.unregister(meeting["id"], member(0))
    before = (app.meeting(meeting["id"], ORGANIZER), app.registrants(meeting["id"], ORGANIZER))
    app.rebuild_read_models()
    assert (app.meeting(meeting["id"], ORGANIZER), app.registrants(meeting["id"], ORGANIZER)) == before


def test_batches_of_registrations_racing_for_one_meeting_never_overbook(app):
    """Six batches of ten (the gateway's gathered calls) at once for 25 seats: each batch decided
    whole on the stream it read, the losers again on the fresh one; 25 confirmed, 35 waiting, 1..35."""
    outbox = Outbox(app)
    meeting = create(app, capacity=25)
    answers = []
    pool = eventlet.GreenPool(6)
    for b in range(6):
        pool.spawn(lambda b=b: answers.extend(app.register_many(
            [(meeting["id"], f"mem-{b * 10 + n}") for n in range(10)], member(0))))
    pool.waitall()
    statuses = [a["ok"]["status"] for a in answers]
    assert len(statuses) == 60 and statuses.count("confirmed") == 25
    assert [e.position for e in outbox.of(RegistrationWaitlisted)] == list(range(1, 36))
    assert app.meeting(meeting["id"], ORGANIZER)["seats_left"] == 0
