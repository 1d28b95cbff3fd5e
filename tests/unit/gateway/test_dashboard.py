"""GET /api/members/me/dashboard: composed from the petitions and members services (stubbed: conftest.py)."""
import requests


def test_the_dashboard_is_for_members_and_composes_what_i_signed_and_who_asks_for_me(gateway):
    url = gateway.url + "/api/members/me/dashboard"
    assert requests.get(url).status_code == 401
    gateway.handlers["signed_by"] = lambda member_id, limit=None, cursor=None: {
        "items": [{"petition_id": "p1", "title": "Des pistes cyclables", "signed_at": "2026-12-02T10:00:00+00:00"}],
        "next_cursor": None}
    gateway.handlers["list_contacts"] = lambda member_id, limit=None, cursor=None: {"items": [
        {"member_id": "m2", "display_name": "Léa M.", "status": "incoming"},
        {"member_id": "m3", "display_name": "Noé B.", "status": "accepted"}], "next_cursor": None}
    gateway.handlers["debates_of"] = lambda member_id, limit=10: [
        {"id": "d1", "title": "L'école", "scope": "local", "status": "open", "contribution_count": 3}]
    _, auth = gateway.log_in()
    answer = requests.get(url, headers=auth)
    assert answer.status_code == 200
    body = answer.json()
    assert [p["petition_id"] for p in body["petitions_signed"]] == ["p1"]
    assert [c["member_id"] for c in body["contact_requests"]] == ["m2"]
    assert body["next_meetings"] == body["meetings_near_me"] == []
    assert [d["id"] for d in body["debates"]] == ["d1"]
    assert [c.args[0] for c in gateway.calls if c.method in ("signed_by", "list_contacts", "debates_of")] == [
        "m1", "m1", "m1"]
