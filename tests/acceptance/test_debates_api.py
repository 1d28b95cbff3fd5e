"""Debates through the running gateway (issue 11): who may do what on every endpoint
(anonymous, a member, a member of another federation, a candidate, a federation's
moderator, another federation's moderator, a national admin), threads and their sorting,
votes, reports, hiding and what it shows to whom, suspension, closing, French search,
reply-notification choice, and the dashboard's "my debates"."""
from datetime import datetime, timedelta, timezone

import pytest
import requests
from nameko.standalone.rpc import ClusterRpcProxy

from ..conftest import wait_until
from .test_camille_adds_lucas_as_a_contact import join

pytestmark = pytest.mark.integration

LOCAL = {"title": "La gare de Lyon-Part-Dieu", "body": "Que faire de **l'école** du quartier ?", "scope": "local",
         "theme": "education"}


@pytest.fixture(autouse=True)
def roomy_limits(monkeypatch):
    # Every account here is new, and new accounts post twice a minute: the scenario posts more.
    monkeypatch.setenv("RATE_LIMIT_SCALE", "50")


def test_debating_from_opening_to_synthesis(platform):
    api = platform.url + "/api"
    camille, camille_auth, _ = join(platform, "camille@example.org", "Camille", "69003")
    lucas, lucas_auth, _ = join(platform, "lucas@example.org", "Lucas", "75011")
    _, mod69_auth, _ = join(platform, "mod69@example.org", "Modeste", "69002")
    _, mod75_auth, _ = join(platform, "mod75@example.org", "Marius", "75012")
    _, nora_auth, _ = join(platform, "nora@example.org", "Nora", "33000")
    _, carla_auth, _ = join(platform, "carla@example.org", "Carla", "13001")
    with ClusterRpcProxy(platform.config) as rpc:
        for email, role in (("mod69@example.org", "moderator"), ("mod75@example.org", "moderator"),
                            ("nora@example.org", "national_admin"), ("carla@example.org", "candidate")):
            rpc.members.grant_role(email, role)

    # Opening: members only; a local debate in one's own federation; national ones by moderators.
    assert requests.post(f"{api}/debates", json=LOCAL).status_code == 401
    assert requests.post(f"{api}/debates", json={**LOCAL, "scope": "national"}, headers=camille_auth).status_code == 403
    assert requests.post(f"{api}/debates", json={**LOCAL, "federation_code": "75"},
                         headers=camille_auth).status_code == 403
    bad = requests.post(f"{api}/debates", json={**LOCAL, "theme": "astrologie", "title": ""}, headers=camille_auth)
    assert bad.status_code == 400 and "title" in bad.json()["error"]["fields"]
    local = requests.post(f"{api}/debates", json=LOCAL, headers=camille_auth)
    assert local.status_code == 201, local.text
    debate = local.json()
    assert (debate["scope"], debate["federation"], debate["status"]) == ("local", "69", "open")
    assert "<strong>l'école</strong>" in debate["body_html"]
    national = requests.post(f"{api}/debates", json={**LOCAL, "scope": "national", "title": "Les transports"},
                             headers=mod75_auth)
    assert national.status_code == 201, national.text
    candidates = requests.post(f"{api}/debates", json={**LOCAL, "scope": "candidates", "title": "Entre nous"},
                               headers=carla_auth)
    assert candidates.status_code == 201, candidates.text
    cid = candidates.json()["id"]

    # The candidates' workshop: 403 to others, on reading and writing alike.
    for auth in ({}, camille_auth, lucas_auth):
        assert requests.get(f"{api}/debates/{cid}", headers=auth).status_code == 403
        assert requests.get(f"{api}/debates?scope=candidates", headers=auth).status_code == 403
    assert requests.post(f"{api}/debates/{cid}/contributions", json={"body": "Moi aussi"},
                         headers=lucas_auth).status_code == 403
    assert requests.get(f"{api}/debates/{cid}", headers=carla_auth).status_code == 200
    assert requests.post(f"{api}/debates/{cid}/contributions", json={"body": "Bonjour"},
                         headers=mod69_auth).status_code == 201
    assert cid not in [d["id"] for d in requests.get(f"{api}/debates").json()["items"]]
    assert cid in [d["id"] for d in requests.get(f"{api}/debates", headers=carla_auth).json()["items"]]

    # Contributions: threaded, sanitised, only the federation writes in a local debate.
    did = debate["id"]
    url = f"{api}/debates/{did}/contributions"
    assert requests.post(url, json={"body": "Anonyme"}).status_code == 401
    assert requests.post(url, json={"body": "De Paris"}, headers=lucas_auth).status_code == 403
    for body in ("", "x" * 10_001, "x" * 20_000):
        refused = requests.post(url, json={"body": body}, headers=camille_auth)
        assert refused.status_code == 400 and "body" in refused.json()["error"]["fields"]
    first = requests.post(url, json={"body": "Rénover l'école <script>alert(1)</script> [ici](javascript:alert(1))"},
                          headers=camille_auth)
    assert first.status_code == 201, first.text
    first = first.json()
    assert "<script" not in first["body_html"] and 'href="javascript' not in first["body_html"]
    reply = requests.post(url, json={"body": "D'accord", "parent_id": first["id"]}, headers=mod69_auth).json()
    foreign = requests.post(url, json={"body": "Ailleurs", "parent_id": national.json()["id"]}, headers=camille_auth)
    assert foreign.status_code == 400 and "parent_id" in foreign.json()["error"]["fields"]
    second = requests.post(url, json={"body": "Une autre idée"}, headers=mod69_auth).json()
    page = requests.get(f"{api}/debates/{did}?sort=newest").json()
    assert [(c["id"], c["parent_id"]) for c in page["contributions"]] == [
        (second["id"], None), (first["id"], None), (reply["id"], first["id"])]
    # The debates service learns names from the members events (never asking at request time).
    assert wait_until(lambda: {c["author"]["display_name"] for c in requests.get(f"{api}/debates/{did}").json()[
        "contributions"]} == {"Camille M.", "Modeste M."})
    assert requests.get(f"{api}/debates/{did}?sort=loudest").status_code == 400
    assert requests.get(f"{api}/debates/{did}?limit=1").json()["next_cursor"]

    # Editing: the author only.
    edit = f"{api}/contributions/{first['id']}"
    assert requests.patch(edit, json={"body": "Pas à moi"}, headers=mod69_auth).status_code == 403
    assert requests.patch(edit, json={"body": "Pas connecté"}).status_code == 401
    edited = requests.patch(edit, json={"body": "Rénover *vite* l'école"}, headers=camille_auth)
    assert edited.status_code == 200 and "<em>vite</em>" in edited.json()["body_html"]

    # Votes: one per member, changeable, withdrawn, never on one's own.
    votes = f"{api}/contributions/{first['id']}/votes"
    assert requests.post(votes, json={"value": 1}).status_code == 401
    assert requests.post(votes, json={"value": 1}, headers=camille_auth).status_code == 403
    assert requests.post(votes, json={"value": 3}, headers=mod69_auth).status_code == 400
    assert requests.post(votes, json={"value": 1}, headers=mod69_auth).json()["score"] == 1
    assert requests.post(votes, json={"value": 1}, headers=mod69_auth).json()["score"] == 1
    assert requests.post(votes, json={"value": 1}, headers=nora_auth).json()["score"] == 2
    assert requests.post(votes, json={"value": -1}, headers=mod69_auth).json()["score"] == 0
    assert requests.delete(votes, headers=mod69_auth).json()["score"] == 1
    assert requests.post(votes, json={"value": 1}, headers=lucas_auth).status_code == 403  # not his federation's
    tops = [c["id"] for c in requests.get(f"{api}/debates/{did}?sort=support").json()["contributions"]
            if not c["parent_id"]]
    assert tops == [first["id"], second["id"]]

    # Reports and the queue: this federation's moderators, and national ones.
    reports = f"{api}/contributions/{second['id']}/reports"
    assert requests.post(reports, json={"reason": "Hors sujet"}).status_code == 401
    assert requests.post(reports, json={"reason": ""}, headers=camille_auth).status_code == 400
    assert requests.post(reports, json={"reason": "Hors sujet"}, headers=camille_auth).status_code == 201
    assert requests.post(reports, json={"reason": "Encore"}, headers=camille_auth).status_code == 409
    queue = f"{api}/moderation/reports"
    assert requests.get(queue).status_code == 401
    assert requests.get(queue, headers=camille_auth).status_code == 403
    assert requests.get(queue, headers=mod75_auth).json()["items"] == []
    assert [r["contribution_id"] for r in requests.get(queue, headers=mod69_auth).json()["items"]] == [second["id"]]
    assert [r["contribution_id"] for r in requests.get(queue, headers=nora_auth).json()["items"]] == [second["id"]]

    # Hiding: by the debate's moderators; shown as hidden to others, in full to its author and moderators.
    hide = f"{api}/contributions/{second['id']}/hide"
    assert requests.post(hide, json={"reason": "Hors sujet"}).status_code == 401
    assert requests.post(hide, json={"reason": "Hors sujet"}, headers=camille_auth).status_code == 403
    assert requests.post(hide, json={"reason": "Hors sujet"}, headers=mod75_auth).status_code == 403
    assert requests.post(hide, json={"reason": ""}, headers=mod69_auth).status_code == 400
    assert requests.post(hide, json={"reason": "Hors sujet"}, headers=mod69_auth).status_code == 200
    assert requests.post(hide, json={"reason": "Encore"}, headers=mod69_auth).status_code == 409

    def seen(auth):
        return next(c for c in requests.get(f"{api}/debates/{did}", headers=auth).json()["contributions"]
                    if c["id"] == second["id"])

    for auth in ({}, camille_auth, lucas_auth):
        assert seen(auth)["body_html"] == "" and "hidden_reason" not in seen(auth) and seen(auth)["hidden"]
    for auth in (mod69_auth, nora_auth):
        assert seen(auth)["hidden_reason"] == "Hors sujet" and seen(auth)["body_html"]
    reply_to_hidden = requests.post(url, json={"body": "Réponse", "parent_id": second["id"]}, headers=camille_auth)
    assert reply_to_hidden.status_code == 409
    restore = f"{api}/contributions/{second['id']}/restore"
    assert requests.post(restore, json={"reason": "Relu"}, headers=camille_auth).status_code == 403
    assert requests.post(restore, json={"reason": "Relu"}, headers=mod69_auth).status_code == 200
    assert seen({})["body_html"] and requests.get(queue, headers=mod69_auth).json()["items"] == []

    # Suspension: moderators; the suspended member reads but does not post.
    until = (datetime.now(timezone.utc) + timedelta(days=2)).isoformat()
    suspend = f"{api}/members/{camille}/debate-suspension"
    assert requests.post(suspend, json={"until": until, "reason": "Insultes"}).status_code == 401
    assert requests.post(suspend, json={"until": until, "reason": "Insultes"}, headers=lucas_auth).status_code == 403
    assert requests.post(suspend, json={"until": until, "reason": "Insultes"}, headers=mod75_auth).status_code == 403
    assert requests.post(suspend, json={"until": "hier", "reason": "Insultes"}, headers=mod69_auth).status_code == 400
    assert requests.post(suspend, json={"until": until, "reason": "Insultes"}, headers=mod69_auth).status_code == 200
    assert requests.post(url, json={"body": "Encore moi"}, headers=camille_auth).status_code == 403
    assert requests.get(f"{api}/debates/{did}", headers=camille_auth).status_code == 200

    # Search in French, accents folded.
    found = requests.get(f"{api}/debates", params={"q": "ecole"}).json()["items"]
    assert {d["id"] for d in found} >= {did} and cid not in {d["id"] for d in found}
    assert requests.get(f"{api}/debates", params={"q": "zygomatique"}).json()["items"] == []

    # Closing: the debate's moderators, with a synthesis; read-only afterwards.
    close = f"{api}/debates/{did}/close"
    assert requests.post(close, json={"synthesis": "Fin"}).status_code == 401
    assert requests.post(close, json={"synthesis": "Fin"}, headers=camille_auth).status_code == 403
    assert requests.post(close, json={"synthesis": "Fin"}, headers=mod75_auth).status_code == 403
    closed = requests.post(close, json={"synthesis": "Nous retenons **deux** idées."}, headers=mod69_auth)
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    assert "<strong>deux</strong>" in closed.json()["synthesis_html"]
    assert requests.post(url, json={"body": "Trop tard"}, headers=mod69_auth).status_code == 409
    assert requests.post(votes, json={"value": -1}, headers=nora_auth).status_code == 409

    # Reply notifications: digest unless I ask for each one.
    notifications = f"{api}/members/me/debate-notifications"
    assert requests.get(notifications).status_code == 401
    assert requests.get(notifications, headers=lucas_auth).json() == {"mode": "digest"}
    assert requests.put(notifications, json={"mode": "hourly"}, headers=lucas_auth).status_code == 400
    assert requests.put(notifications, json={"mode": "each"}, headers=lucas_auth).json() == {"mode": "each"}
    assert requests.get(notifications, headers=lucas_auth).json() == {"mode": "each"}

    # My debates on the dashboard.
    dashboard = requests.get(f"{api}/members/me/dashboard", headers=camille_auth).json()
    assert did in [d["id"] for d in dashboard["debates"]]
    assert requests.get(f"{api}/debates/00000000-0000-0000-0000-000000000000").status_code == 404


def test_camille_exports_her_debates_then_is_forgotten_by_them(platform):
    from .test_camille_adds_lucas_as_a_contact import PASSWORD

    api = platform.url + "/api"
    _, camille_auth, _ = join(platform, "camille@example.org", "Camille", "69003")
    _, lucas_auth, _ = join(platform, "lucas@example.org", "Lucas", "69001")
    debate = requests.post(f"{api}/debates", json=LOCAL, headers=lucas_auth).json()
    mine = requests.post(f"{api}/debates/{debate['id']}/contributions", json={"body": "Mon idée hippopotamesque"},
                         headers=camille_auth).json()
    requests.post(f"{api}/debates/{debate['id']}/contributions", json={"body": "Bien vu", "parent_id": mine["id"]},
                  headers=lucas_auth)
    assert wait_until(lambda: requests.get(f"{api}/debates/{debate['id']}").json()["contributions"][0]["author"][
        "display_name"] == "Camille M.")
    exported = requests.get(f"{api}/members/me/export", headers=camille_auth).json()["debates"]
    assert exported["display_name"] == "Camille M."
    assert "hippopotamesque" in exported["contributions"][0]["body_html"]

    assert requests.delete(f"{api}/members/me", headers=camille_auth, json={"password": PASSWORD}).status_code == 204

    def forgotten():
        thread = requests.get(f"{api}/debates/{debate['id']}").json()["contributions"]
        return thread[0]["erased"] and thread
    thread = wait_until(forgotten)
    assert thread[0]["body_html"] == "" and thread[0]["author"] == {"member_id": None, "display_name": "Membre effacé"}
    assert thread[1]["body_html"] == "<p>Bien vu</p>"  # the replies stand
    assert requests.get(f"{api}/debates", params={"q": "hippopotamesque"}).json()["items"] == []
