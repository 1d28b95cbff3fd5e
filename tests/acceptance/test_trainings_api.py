"""Online trainings through the running gateway (issue 10, item 6): Nora, a national admin,
publishes a course; Camille, a member, enrols and completes its modules in order, the quiz
answered right, and gets her completion record; Chloé, a candidate, follows the candidates'
course that Camille cannot; every role and the anonymous visitor get their answer on each
endpoint, and what is refused changes nothing."""
import pytest
import requests
from nameko.standalone.rpc import ClusterRpcProxy

from ..conftest import wait_until
from .test_camille_adds_lucas_as_a_contact import PASSWORD, join

pytestmark = pytest.mark.integration

QUIZ = {"questions": [{"question": "Quand vote-t-on ?", "choices": ["Le dimanche", "Le lundi"], "answer": 0},
                      {"question": "Combien de tours ?", "choices": ["Un", "Deux"], "answer": 1}]}
COURSE = {"title": "Faire campagne", "description": "Un cours **en ligne**.",
          "modules": [{"title": "Bienvenue", "body": "# Bonjour\n\n<img src=x onerror=alert(1)>"},
                      {"title": "Voter", "body": "Le vote.", "video_url": "https://video.example.org/1", "quiz": QUIZ},
                      {"title": "Conclure", "body": "[Fin](https://example.org/fin)"}]}


def test_nora_publishes_a_course_and_camille_completes_it(platform):
    api = platform.url + "/api"
    camille, camille_auth, _ = join(platform, "camille@example.org", "Camille", "69003")
    _, chloe_auth, _ = join(platform, "chloe@example.org", "Chloé", "75011")
    _, nora_auth, _ = join(platform, "nora@example.org", "Nora", "33000")
    roles = {"federation_admin": "fed@example.org", "organizer": "orga@example.org",
             "moderator": "modo@example.org"}
    others = {role: join(platform, email, role.capitalize(), "13001")[1] for role, email in roles.items()}
    with ClusterRpcProxy(platform.config) as rpc:
        rpc.members.grant_role("nora@example.org", "national_admin")
        rpc.members.grant_role("chloe@example.org", "candidate")
        for role, email in roles.items():
            rpc.members.grant_role(email, role)

    # Publishing: national admins only; bad courses say which field is wrong.
    assert requests.post(f"{api}/trainings", json=COURSE).status_code == 401
    for auth in (camille_auth, chloe_auth, *others.values()):
        assert requests.post(f"{api}/trainings", json=COURSE, headers=auth).status_code == 403
    for bad, field in (({**COURSE, "title": ""}, "title"), ({**COURSE, "modules": []}, "modules"),
                       ({**COURSE, "title": "x" * 201}, "title"),
                       ({**COURSE, "modules": [{"title": "t", "body": "b", "video_url": "javascript:alert(1)"}]},
                        "modules.0.video_url"),
                       ({**COURSE, "modules": [{"title": "t", "body": "b", "quiz": {"questions": [
                           {"question": "q", "choices": ["a", "b"]}]}}]}, "modules.0.quiz.questions.0.answer"),
                       ({**COURSE, "modules": [{"title": "t", "body": "b", "quiz": {"questions": [
                           {"question": "q", "choices": ["a", "b"], "answer": 5}]}}]},
                        "modules.0.quiz.questions.0.answer"),
                       ({**COURSE, "modules": "trois"}, "modules")):
        refused = requests.post(f"{api}/trainings", json=bad, headers=nora_auth)
        assert refused.status_code == 400, refused.text
        assert field in refused.json()["error"]["fields"], refused.json()
    assert requests.get(f"{api}/trainings", headers=nora_auth).json()["items"] == []
    published = requests.post(f"{api}/trainings", json=COURSE, headers=nora_auth)
    assert published.status_code == 201, published.text
    course = published.json()
    tid, modules = course["id"], [m["id"] for m in course["modules"]]
    assert [m["title"] for m in course["modules"]] == ["Bienvenue", "Voter", "Conclure"]
    assert "<img" not in course["modules"][0]["body_html"] and "<h1>Bonjour</h1>" in course["modules"][0]["body_html"]
    assert "answer" not in published.text
    candidates = requests.post(f"{api}/trainings", json={**COURSE, "title": "Candidats", "candidates_only": True},
                               headers=nora_auth).json()

    # Reading: members; the candidates' course only for candidates and admins.
    assert requests.get(f"{api}/trainings").status_code == 401
    assert requests.get(f"{api}/trainings/{tid}").status_code == 401
    listed = requests.get(f"{api}/trainings", headers=camille_auth).json()["items"]
    assert [t["id"] for t in listed] == [tid]
    for auth in (chloe_auth, nora_auth, others["federation_admin"]):
        assert [t["id"] for t in requests.get(f"{api}/trainings", headers=auth).json()["items"]] == [
            candidates["id"], tid]
    for auth in (others["organizer"], others["moderator"]):
        assert [t["id"] for t in requests.get(f"{api}/trainings", headers=auth).json()["items"]] == [tid]
    assert requests.get(f"{api}/trainings/{candidates['id']}", headers=camille_auth).status_code == 403
    assert requests.get(f"{api}/trainings/{candidates['id']}", headers=chloe_auth).status_code == 200
    assert requests.get(f"{api}/trainings/00000000-0000-0000-0000-000000000000",
                        headers=camille_auth).status_code == 404
    assert requests.get(f"{api}/trainings", params={"limit": "0"}, headers=camille_auth).status_code == 400

    # Enrolling: once; the candidates' course for candidates only.
    enrol = f"{api}/trainings/{tid}/enrolment"
    assert requests.post(enrol).status_code == 401
    enrolled = requests.post(enrol, headers=camille_auth)
    assert enrolled.status_code == 201 and enrolled.json()["enrolment"]["progress"] == 0.0, enrolled.text
    assert requests.post(enrol, headers=camille_auth).status_code == 409
    assert requests.post(f"{api}/trainings/{candidates['id']}/enrolment", headers=camille_auth).status_code == 403
    assert requests.post(f"{api}/trainings/{candidates['id']}/enrolment", headers=nora_auth).status_code == 403
    assert requests.post(f"{api}/trainings/{candidates['id']}/enrolment", headers=chloe_auth).status_code == 201

    # Completing: enrolled, in order, the quiz answered right; nothing recorded otherwise.
    def done(n, auth=camille_auth, **body):
        return requests.post(f"{api}/trainings/{tid}/modules/{modules[n]}/complete", json=body, headers=auth)

    assert done(0, auth={}).status_code == 401
    assert done(0, auth=chloe_auth).status_code == 409  # not enrolled in this one
    assert done(1, answers=[0, 1]).status_code == 409  # out of order
    assert requests.post(f"{api}/trainings/{tid}/modules/00000000-0000-0000-0000-000000000000/complete",
                         json={}, headers=camille_auth).status_code == 404
    first = done(0)
    assert first.status_code == 200 and first.json()["progress"] == 0.3333 and first.json()["completed"] is False
    wrong = done(1, answers=[0, 0])
    assert wrong.status_code == 400 and list(wrong.json()["error"]["fields"]) == ["answers.1"], wrong.text
    assert done(1).status_code == 400  # no answers
    assert done(1, answers="zéro").status_code == 400
    shown = requests.get(f"{api}/trainings/{tid}", headers=camille_auth).json()
    assert [m["completed"] for m in shown["modules"]] == [True, False, False]
    assert shown["enrolment"]["progress"] == 0.3333
    assert done(1, answers=[0, 1]).json()["progress"] == 0.6667
    last = done(2)
    assert last.status_code == 200 and last.json()["progress"] == 1.0 and last.json()["completed"] is True

    # Her completion record, on her list and the course; nobody else's.
    mine = requests.get(f"{api}/members/me/trainings", headers=camille_auth).json()["items"]
    assert [(t["training_id"], t["completed"]) for t in mine] == [(tid, True)] and mine[0]["completed_at"]
    assert requests.get(f"{api}/members/me/trainings").status_code == 401
    assert requests.get(f"{api}/trainings/{tid}", headers=camille_auth).json()["enrolment"]["completed"] is True
    assert requests.get(f"{api}/trainings/{tid}", headers=nora_auth).json()["enrolment"] is None
    chloe_list = requests.get(f"{api}/members/me/trainings", headers=chloe_auth).json()["items"]
    assert [(t["training_id"], t["completed"]) for t in chloe_list] == [(candidates["id"], False)]

    # The completion feeds Camille's talent score; her export lists her enrolment.
    def camille_talent():
        items = requests.get(f"{api}/talents", headers=nora_auth).json()["items"]
        return next((i for i in items if i["member_id"] == camille and "trainings" in i["breakdown"]), None)

    assert wait_until(camille_talent)
    exported = requests.get(f"{api}/members/me/export", headers=camille_auth).json()
    assert [e["training_id"] for e in exported["events"]["training_enrolments"]] == [tid]

    # Camille erases her account: the events service forgets her enrolments (members.MemberErased).
    erased = requests.delete(f"{api}/members/me", headers=camille_auth, json={"password": PASSWORD})
    assert erased.status_code == 204, erased.text
    with ClusterRpcProxy(platform.config) as rpc:
        wait_until(lambda: rpc.events.export_personal_data(camille)["training_enrolments"] == [])
        assert rpc.events.trainings_of(camille)["items"] == []
    assert requests.get(f"{api}/trainings/{tid}", headers=nora_auth).json()["module_count"] == 3  # the course stays
