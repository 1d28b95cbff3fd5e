"""Meetings through the running gateway (issue 10): Odile, an organizer in Paris, publishes a
meeting; members find it near their postcode, register, fill it, wait, get promoted; Odile
sees the registrants and records attendance; the calendars read back; and who may do what
on every endpoint (anonymous, member, another organizer, the admin of another federation)."""
from datetime import datetime, timedelta, timezone

import pytest
import requests
from icalendar import Calendar
from nameko.standalone.rpc import ClusterRpcProxy

from .test_camille_adds_lucas_as_a_contact import join

pytestmark = pytest.mark.integration


def meeting_body(**changes):
    start = (datetime.now(timezone.utc) + timedelta(days=7)).replace(microsecond=0)
    body = {"title": "Réunion publique : l'école", "description": "Venez **nombreux** <script>x</script>",
            "starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=2)).isoformat(),
            "address": "12 rue de la Roquette", "postcode": "75011", "capacity": 2, "theme": "education",
            "federation_code": "75"}
    body.update(changes)
    return body


def test_odile_organizes_a_meeting_that_fills_up(platform):
    api = platform.url + "/api"
    odile, odile_auth, _ = join(platform, "odile@example.org", "Odile", "75011")
    _, other_auth, _ = join(platform, "other@example.org", "Omar", "75012")
    _, admin13_auth, _ = join(platform, "admin13@example.org", "Marius", "13001")
    members = [join(platform, f"m{n}@example.org", f"Membre{n}", "75003") for n in range(4)]
    with ClusterRpcProxy(platform.config) as rpc:
        for email, role in (("odile@example.org", "organizer"), ("other@example.org", "organizer"),
                            ("admin13@example.org", "federation_admin")):
            rpc.members.grant_role(email, role)

    # Creating: organizers and admins only, locally in their own federation; bad input field by field.
    assert requests.post(f"{api}/meetings", json=meeting_body()).status_code == 401
    assert requests.post(f"{api}/meetings", json=meeting_body(), headers=members[0][1]).status_code == 403
    assert requests.post(f"{api}/meetings", json=meeting_body(), headers=admin13_auth).status_code == 403
    past = datetime.now(timezone.utc) - timedelta(days=1)
    bad = requests.post(f"{api}/meetings", headers=odile_auth, json=meeting_body(
        starts_at=past.isoformat(), ends_at=(past - timedelta(hours=1)).isoformat(), capacity=-1,
        postcode="00000", theme="astrologie"))
    assert bad.status_code == 400, bad.text
    assert {"starts_at", "ends_at", "capacity", "postcode", "theme"} <= set(bad.json()["error"]["fields"])
    assert requests.post(f"{api}/meetings", headers=odile_auth, json=meeting_body(capacity="deux")).status_code == 400
    created = requests.post(f"{api}/meetings", json=meeting_body(), headers=odile_auth)
    assert created.status_code == 201, created.text
    meeting = created.json()
    mid = meeting["id"]
    assert (meeting["status"], meeting["seats_left"], meeting["federation"]) == ("published", 2, "75")
    assert "<script" not in meeting["description_html"] and "<strong>nombreux</strong>" in meeting["description_html"]

    # Finding it: near a postcode, by theme, by federation; not far away.
    near = requests.get(f"{api}/meetings", params={"postcode": "75003", "radius_km": 10}).json()
    assert [m["id"] for m in near["items"]] == [mid] and near["next_cursor"] is None
    assert {"id", "title", "starts_at", "ends_at", "city", "lat", "lon", "capacity", "seats_left", "federation",
            "theme", "status"} <= set(near["items"][0])
    assert requests.get(f"{api}/meetings", params={"postcode": "13001", "radius_km": 30}).json()["items"] == []
    assert requests.get(f"{api}/meetings", params={"theme": "sante"}).json()["items"] == []
    assert requests.get(f"{api}/meetings", params={"postcode": "00000"}).status_code == 400
    assert requests.get(f"{api}/meetings", params={"limit": 0}).status_code == 400

    # Editing: its organizer only (another organizer, another federation's admin: 403).
    for stranger in (other_auth, admin13_auth, members[0][1]):
        assert requests.patch(f"{api}/meetings/{mid}", json={"title": "X"}, headers=stranger).status_code == 403
        assert requests.get(f"{api}/meetings/{mid}/registrations", headers=stranger).status_code == 403
        assert requests.post(f"{api}/meetings/{mid}/cancel", json={}, headers=stranger).status_code == 403
    assert requests.patch(f"{api}/meetings/{mid}", json={"title": "X"}).status_code == 401
    edited = requests.patch(f"{api}/meetings/{mid}", json={"title": "Réunion : l'école"}, headers=odile_auth)
    assert edited.status_code == 200 and edited.json()["title"] == "Réunion : l'école"

    # Registering: two seats, then the waitlist in order; twice is a conflict.
    assert requests.post(f"{api}/meetings/{mid}/registrations").status_code == 401
    statuses = [requests.post(f"{api}/meetings/{mid}/registrations", headers=auth).json()["status"]
                for _, auth, _ in members]
    assert statuses == ["confirmed", "confirmed", "waitlisted", "waitlisted"]
    again = requests.post(f"{api}/meetings/{mid}/registrations", headers=members[0][1])
    assert again.status_code == 409 and again.json()["error"]["code"] == "conflict"
    low = requests.patch(f"{api}/meetings/{mid}", json={"capacity": 1}, headers=odile_auth)
    assert low.status_code == 400 and "capacity" in low.json()["error"]["fields"]

    # One leaves: the first who waits gets the seat.
    assert requests.delete(f"{api}/meetings/{mid}/registrations/me", headers=members[0][1]).status_code == 204
    assert requests.delete(f"{api}/meetings/{mid}/registrations/me", headers=members[0][1]).status_code == 404
    mine = requests.get(f"{api}/meetings/{mid}", headers=members[2][1]).json()["my_registration"]
    assert mine["status"] == "confirmed"
    listed = requests.get(f"{api}/meetings/{mid}/registrations", headers=odile_auth).json()["items"]
    assert [(r["member_id"], r["status"]) for r in listed] == [
        (members[1][0], "confirmed"), (members[2][0], "confirmed"), (members[3][0], "waitlisted")]

    # Attendance: the organizer records it, for a confirmed registrant only.
    assert requests.post(f"{api}/meetings/{mid}/attendance", json={"member_id": members[1][0]},
                         headers=members[1][1]).status_code == 403
    assert requests.post(f"{api}/meetings/{mid}/attendance", json={"member_id": members[3][0]},
                         headers=odile_auth).status_code == 400
    recorded = requests.post(f"{api}/meetings/{mid}/attendance", json={"member_id": members[1][0]}, headers=odile_auth)
    assert recorded.status_code == 200 and recorded.json()["attended"] is True

    # Calendars: the meeting's .ics and my secret feed, read back with a real parser, in Paris time.
    ics = requests.get(f"{api}/meetings/{mid}.ics")
    assert ics.status_code == 200 and ics.headers["Content-Type"].startswith("text/calendar")
    event = next(iter(Calendar.from_ical(ics.content).walk("VEVENT")))
    assert str(event.decoded("dtstart").tzinfo) == "Europe/Paris"
    assert event.decoded("dtstart") == datetime.fromisoformat(meeting["starts_at"])
    feed = requests.get(f"{api}/members/me/calendar", headers=members[2][1]).json()["url"]
    assert members[2][0] not in feed
    path = feed.split("://", 1)[1].split("/", 1)[1]
    calendar = requests.get(f"{platform.url}/{path}")
    assert calendar.status_code == 200
    assert [str(e["summary"]) for e in Calendar.from_ical(calendar.content).walk("VEVENT")] == ["Réunion : l'école"]
    assert requests.get(f"{api}/members/me/calendar").status_code == 401

    # The dashboard and the platform's figures.
    dashboard = requests.get(f"{api}/members/me/dashboard", headers=members[2][1]).json()
    assert [m["id"] for m in dashboard["next_meetings"]] == [mid]
    assert [m["id"] for m in dashboard["meetings_near_me"]] == [mid]
    assert requests.get(f"{api}/stats", headers=odile_auth).json()["upcoming_meetings"] == 1

    # Cancelling: no more registrations.
    cancelled = requests.post(f"{api}/meetings/{mid}/cancel", json={"reason": "Salle fermée"}, headers=odile_auth)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert requests.post(f"{api}/meetings/{mid}/registrations", headers=members[0][1]).status_code == 409
    assert requests.get(f"{api}/meetings", headers=odile_auth).json()["items"] == []


def test_a_draft_is_seen_by_its_organizer_only_until_published(platform):
    api = platform.url + "/api"
    _, odile_auth, _ = join(platform, "odile@example.org", "Odile", "75011")
    _, member_auth, _ = join(platform, "camille@example.org", "Camille", "75011")
    with ClusterRpcProxy(platform.config) as rpc:
        rpc.members.grant_role("odile@example.org", "organizer")
    draft = requests.post(f"{api}/meetings", json=meeting_body(draft=True), headers=odile_auth).json()
    assert draft["status"] == "draft"
    assert requests.get(f"{api}/meetings/{draft['id']}").status_code == 404
    assert requests.get(f"{api}/meetings/{draft['id']}", headers=member_auth).status_code == 404
    assert requests.post(f"{api}/meetings/{draft['id']}/publish", headers=member_auth).status_code == 404
    published = requests.post(f"{api}/meetings/{draft['id']}/publish", headers=odile_auth)
    assert published.status_code == 200 and published.json()["status"] == "published"
    assert requests.get(f"{api}/meetings/{draft['id']}", headers=member_auth).status_code == 200
