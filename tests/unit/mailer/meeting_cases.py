"""The meeting emails (mailer/meetings.py): scenarios through `MailerApp`, run in memory
(test_meetings.py) and on SQLite and PostgreSQL (tests/integration/test_mailer_meetings.py).
The app's clock is the tests' (`app.clock`), a week before the meeting unless said."""
import uuid
from datetime import timedelta, timezone

import pytest
from sqlalchemy import select

from mailer.directory import NotYetKnown
from mailer.meetings import meeting_attendees, meeting_notices

from .feeds import (
    START, by_kind, cancelled, changed, deliver, erased, html_of, member, published, registration, text_of,
)
from .privacy_cases import assert_rebuild_gives_the_same_rows

BEFORE = START - timedelta(days=7)


@pytest.fixture(autouse=True)
def a_week_before(app):
    app.clock = lambda: BEFORE


def a_meeting(app, **changes):
    meeting_id = str(uuid.uuid4())
    app.meeting_published(published(meeting_id, **changes))
    return meeting_id


def test_registration_waitlist_and_promotion_emails_say_the_meeting_in_paris_time_and_escape_its_title(app, tmp_path):
    lea, zoe = member(app, "lea@example.org"), member(app, "zoe@example.org", first_name="Zoé")
    meeting = a_meeting(app, notify_radius_km=0)
    app.record_registrations([registration("RegistrationConfirmed", meeting, lea, 2),
                              registration("RegistrationWaitlisted", meeting, zoe, 3, position=1)])
    sent = {m["To"]: m for m in deliver(app, tmp_path)}
    confirmed, waitlisted = sent["lea@example.org"], sent["zoe@example.org"]
    assert confirmed["Subject"] == "Inscription confirmée : « Réunion <santé> & territoires »"
    text = text_of(confirmed)
    assert "Bonjour Léa," in text and "jeudi 10 décembre 2026 de 19 h 30 à 21 h 30" in text  # Paris time
    assert f"http://testserver/reunions/{meeting}" in text
    assert "Réunion &lt;santé&gt; &amp; territoires" in html_of(confirmed) and "<santé>" not in html_of(confirmed)
    assert waitlisted["Subject"].startswith("Liste d'attente") and "en position 1" in text_of(waitlisted)

    app.record_registrations([registration("WaitlistPromoted", meeting, zoe, 5)])
    promoted = [m for m in deliver(app, tmp_path) if m["Subject"].startswith("Une place")]
    assert [m["To"] for m in promoted] == ["zoe@example.org"]


def test_each_registration_email_goes_once_whatever_the_redeliveries(app, tmp_path):
    lea = member(app, "lea@example.org")
    meeting = a_meeting(app, notify_radius_km=0)
    event = registration("RegistrationConfirmed", meeting, lea, 2)
    app.record_registrations([event])
    app.record_registrations([event, event])  # redelivered, twice in one batch too
    deliver(app, tmp_path)
    app.record_registrations([event])  # after it was sent
    assert by_kind(app, "meeting-confirmed") == [("lea@example.org", "sent")]
    assert len(deliver(app, tmp_path)) == 1


def test_a_registration_before_its_meeting_or_its_member_is_known_is_retried_later(app, tmp_path):
    meeting, lea = str(uuid.uuid4()), None
    lea = member(app, "lea@example.org")
    early = registration("RegistrationConfirmed", meeting, lea, 2)
    with pytest.raises(NotYetKnown):
        app.record_registrations([early])
    app.meeting_published(published(meeting, notify_radius_km=0))
    stranger = str(uuid.uuid4())
    with pytest.raises(NotYetKnown):
        app.record_registrations([registration("RegistrationConfirmed", meeting, stranger, 3)])
    app.record_registrations([early])  # the retry
    assert by_kind(app, "meeting-confirmed") == [("lea@example.org", "pending")]


def test_a_change_of_time_or_place_is_told_to_registrants_once_a_new_title_is_not(app, tmp_path):
    lea, zoe, tom = (member(app, f"{n}@example.org") for n in ("lea", "zoe", "tom"))
    meeting = a_meeting(app, notify_radius_km=0)
    app.record_registrations([registration("RegistrationConfirmed", meeting, lea, 2),
                              registration("RegistrationWaitlisted", meeting, zoe, 3, position=1),
                              registration("RegistrationConfirmed", meeting, tom, 4),
                              registration("RegistrationCancelled", meeting, tom, 5, was="confirmed")])
    app.meeting_changed(changed(meeting, ["title"], 6, title="Nouveau titre"))
    assert by_kind(app, "meeting-changed") == []
    moved = changed(meeting, ["starts_at", "ends_at"], 7, title="Nouveau titre",
                    starts_at=(START + timedelta(days=1)).isoformat(),
                    ends_at=(START + timedelta(days=1, hours=2)).isoformat())
    app.meeting_changed(moved)
    app.meeting_changed(moved)
    assert by_kind(app, "meeting-changed") == [("lea@example.org", "pending"), ("zoe@example.org", "pending")]
    message = next(m for m in deliver(app, tmp_path) if m["Subject"].startswith("Réunion modifiée"))
    assert "vendredi 11 décembre 2026 de 19 h 30" in text_of(message)
    app.meeting_changed(changed(meeting, ["starts_at"], 6, title="Plus ancien"))  # an older one, late
    with app.read() as conn:
        assert conn.execute(select(meeting_notices.c.title)).scalar() == "Nouveau titre"


def test_a_cancellation_is_told_to_every_registrant_and_waitlisted_once_with_the_reason_escaped(app, tmp_path):
    lea, zoe = member(app, "lea@example.org"), member(app, "zoe@example.org")
    meeting = a_meeting(app, notify_radius_km=0)
    app.record_registrations([registration("RegistrationConfirmed", meeting, lea, 2),
                              registration("RegistrationWaitlisted", meeting, zoe, 3, position=1)])
    event = cancelled(meeting, 4, reason="<script>alert(1)</script> salle fermée")
    app.meeting_cancelled(event)
    app.meeting_cancelled(event)
    sent = [m for m in deliver(app, tmp_path) if m["Subject"].startswith("Réunion annulée")]
    assert sorted(m["To"] for m in sent) == ["lea@example.org", "zoe@example.org"]
    assert "<script>" not in html_of(sent[0]) and "&lt;script&gt;" in html_of(sent[0])
    app.clock = lambda: START - timedelta(hours=2)
    assert app.send_due_reminders() == 0  # a cancelled meeting has no reminder


def test_the_reminder_goes_the_day_before_at_the_right_time_to_the_confirmed_only_once(app, tmp_path):
    lea, zoe = member(app, "lea@example.org"), member(app, "zoe@example.org")
    meeting = a_meeting(app, notify_radius_km=0)
    app.record_registrations([registration("RegistrationConfirmed", meeting, lea, 2),
                              registration("RegistrationWaitlisted", meeting, zoe, 3, position=1)])
    app.clock = lambda: START - timedelta(hours=24, seconds=1)
    assert app.send_due_reminders() == 0  # not yet
    app.clock = lambda: START - timedelta(hours=24)
    assert app.send_due_reminders() == 1
    app.clock = lambda: START - timedelta(hours=3)
    assert app.send_due_reminders() == 0  # once
    [reminder] = [m for m in deliver(app, tmp_path) if m["Subject"].startswith("Rappel")]
    assert reminder["To"] == "lea@example.org" and "jeudi 10 décembre 2026 de 19 h 30" in text_of(reminder)

    # moved to a later day: a reminder for the new time, once
    app.clock = lambda: BEFORE
    app.meeting_changed(changed(meeting, ["starts_at", "ends_at"], 4, starts_at=(START + timedelta(days=2)).isoformat(),
                                ends_at=(START + timedelta(days=2, hours=1)).isoformat()))
    app.clock = lambda: START + timedelta(days=1, hours=1)
    assert app.send_due_reminders() == 1 and app.send_due_reminders() == 0
    assert by_kind(app, "meeting-reminder") == [("lea@example.org", "pending"), ("lea@example.org", "sent")]
    app.clock = lambda: START + timedelta(days=3)
    assert app.send_due_reminders() == 0  # past


def test_the_announcement_reaches_exactly_the_verified_consenting_members_in_radius_who_follow_its_theme(app, tmp_path):
    # the meeting: Paris 11e, theme "sante", 30 km
    near = member(app, "near@example.org", postcode="93100")  # Montreuil, ~5 km
    member(app, "far@example.org", postcode="60200")  # Compiègne, ~70 km
    member(app, "other-theme@example.org", postcode="75012", themes=("logement",))
    member(app, "no-consent@example.org", postcode="75012", consent=False)
    member(app, "unverified@example.org", postcode="75012", verify=False)
    gone = member(app, "erased@example.org", postcode="75012")
    both = member(app, "both@example.org", postcode="92100", themes=("logement", "sante"))  # Boulogne
    app.forget_member(erased(gone))
    meeting_id = str(uuid.uuid4())
    event = published(meeting_id)
    assert app.meeting_published(event) == 2
    assert app.meeting_published(event) == 0  # redelivered: nothing more
    assert by_kind(app, "meeting-announcement") == [("both@example.org", "pending"), ("near@example.org", "pending")]
    message = {m["To"]: m for m in deliver(app, tmp_path)}["near@example.org"]
    assert message["Subject"] == "Nouvelle réunion près de chez vous : « Réunion <santé> & territoires »"
    assert f"http://testserver/reunions/{meeting_id}" in text_of(message)


def test_an_announcement_interrupted_halfway_queues_the_rest_and_none_twice(app):
    for i in range(7):
        member(app, f"m{i}@example.org", postcode="75012")
    meeting_id = str(uuid.uuid4())
    event = published(meeting_id)
    original = app.execute
    calls = []

    def crash_after_two_pages(context, command):
        calls.append(1)
        if len(calls) == 4:  # note, page 1, page 2, then the crash
            raise RuntimeError("killed")
        return original(context, command)

    app.execute = crash_after_two_pages
    with pytest.raises(RuntimeError):
        app.meeting_published(event, page_size=3)
    app.execute = original
    assert len(by_kind(app, "meeting-announcement")) == 6
    assert app.meeting_published(event, page_size=3) == 1
    assert len(by_kind(app, "meeting-announcement")) == 7


def test_an_erased_member_gets_no_meeting_email_and_their_registrations_go(app, tmp_path):
    lea, zoe = member(app, "lea@example.org"), member(app, "zoe@example.org")
    meeting = a_meeting(app, notify_radius_km=0)
    app.record_registrations([registration("RegistrationConfirmed", meeting, lea, 2),
                              registration("RegistrationConfirmed", meeting, zoe, 3)])
    app.forget_member(erased(lea))
    app.record_registrations([registration("RegistrationWaitlisted", meeting, lea, 4, position=1)])  # late
    app.meeting_cancelled(cancelled(meeting, 5))
    assert by_kind(app, "meeting-cancelled") == [("zoe@example.org", "pending")]
    assert by_kind(app, "meeting-confirmed") == [("zoe@example.org", "pending")]  # lea's pending one went
    with app.read() as conn:
        assert conn.execute(select(meeting_attendees.c.member_id)).scalars().all() == [zoe]
    assert_rebuild_gives_the_same_rows(app)


def test_the_confirmation_carries_the_meeting_as_an_ics_in_paris_time_read_back_by_icalendar(app, tmp_path):
    from icalendar import Calendar

    lea = member(app, "lea@example.org")
    title = "Santé, école; et\nterritoires " + "é" * 80
    meeting = a_meeting(app, notify_radius_km=0, title=title)
    app.record_registrations([registration("RegistrationConfirmed", meeting, lea, 2)])
    [message] = deliver(app, tmp_path)
    assert message.get_content_type() == "multipart/mixed"
    assert "Bonjour Léa," in text_of(message)
    [ics] = [part for part in message.iter_attachments() if part.get_content_type() == "text/calendar"]
    assert ics.get_filename() == "reunion.ics"
    raw = ics.get_payload(decode=True)
    assert all(len(line) <= 75 for line in raw.replace(b"\r\n", b"\n").split(b"\n"))  # folded
    [event] = Calendar.from_ical(raw).walk("VEVENT")
    starts, ends = event.decoded("dtstart"), event.decoded("dtend")
    assert str(starts.tzinfo) == "Europe/Paris" and starts.isoformat() == "2026-12-10T19:30:00+01:00"
    assert ends.astimezone(timezone.utc).isoformat() == "2026-12-10T20:30:00+00:00"
    assert str(event["uid"]) == f"{meeting}@meetings.umpnet"  # the events service's UID: one event in a calendar
    assert "Santé, école; et" in str(event["summary"])  # escaped on the way, read back whole
    assert str(event["url"]) == f"http://testserver/reunions/{meeting}"
    assert b"BEGIN:VTIMEZONE" in raw


def test_an_edited_draft_is_not_noted_as_a_meeting(app):
    from .feeds import incoming, meeting_data

    meeting = str(uuid.uuid4())
    app.meeting_changed(incoming("events.MeetingChanged", {**meeting_data(meeting), "changed": ["title"],
                                                           "status": "draft"}, f"meeting-{meeting}", 2))
    with app.read() as conn:
        assert conn.execute(select(meeting_notices)).all() == []


def test_an_online_link_is_a_link_only_when_it_is_http(app, tmp_path):
    lea = member(app, "lea@example.org")
    for url in ("javascript:alert(1)", "https://visio.example.org/r/42"):
        meeting = a_meeting(app, notify_radius_km=0, online_url=url)
        app.record_registrations([registration("RegistrationConfirmed", meeting, lea, 2)])
    texts = [(text_of(m), html_of(m)) for m in deliver(app, tmp_path)]
    assert not any("javascript:" in text or "javascript:" in html for text, html in texts)
    assert any('href="https://visio.example.org/r/42"' in html for _, html in texts)


def test_a_cancellation_that_comes_before_the_publication_leaves_nothing_announced(app):
    member(app, "near@example.org", postcode="93100")
    lea = member(app, "lea@example.org")
    meeting = str(uuid.uuid4())
    app.meeting_cancelled(cancelled(meeting, 3))
    assert app.meeting_published(published(meeting)) == 0
    app.record_registrations([registration("RegistrationConfirmed", meeting, lea, 2)])
    assert by_kind(app, "meeting-announcement") == [] and by_kind(app, "meeting-confirmed") == []
    assert by_kind(app, "meeting-cancelled") == []
    assert_rebuild_gives_the_same_rows(app)
