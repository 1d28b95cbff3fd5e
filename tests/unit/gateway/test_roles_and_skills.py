"""Roles and skills through the gateway (issue 8 items 3 and 8), over the real members
service entrypoints and use cases on the in-memory database (as test_contacts.py).

`PUT /api/members/{id}/roles` for every kind of caller: anonymous, a member, a federation
admin outside their federation or handing out an admin role, inside it, a national admin;
unknown roles and members. Skills on `/api/members/me`, the public profile and the form.
"""
import pytest
import requests
from argon2 import PasswordHasher
from nameko.testing.services import worker_factory

from members import security
from members.application import MembersApp
from members.commands import GrantRole, UpdateProfile
from members.events import RolesChanged
from members.limits import SKILL_MAX
from members.projections import read_models
from members.service import MembersService
from members.throttle import throttle_metadata
from umpnet_kernel.events import Context
from umpnet_kernel.testing import in_memory

from ..members.use_cases import PASSWORD, SECRET, events_of
from .conftest import csrf_of
from .test_contacts import UNKNOWN, People, api

METHODS = ("open_session", "resolve_session", "set_roles", "get_public_profile", "get_own_profile", "update_own_profile")


@pytest.fixture
def people(gateway, monkeypatch):
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    app = in_memory(lambda db: MembersApp(db, SECRET), read_models, throttle_metadata)
    service = worker_factory(MembersService, app=app, context=Context())
    for method in METHODS:
        gateway.handlers[method] = getattr(service, method)
    people = People(app)
    for name in ("Camille", "Lucas", "Admin69", "Admin75", "National"):
        people.add(name)  # all in 69 (postcode 69003)
    app.update_profile(UpdateProfile(people.ids["Admin75"], postcode="75011"), Context())
    for name, role in (("Admin69", "federation_admin"), ("Admin75", "federation_admin"), ("National", "national_admin")):
        app.grant_role(GrantRole(f"{name.lower()}@example.org", role), Context())
    yield people
    app.db.dispose()


def put_roles(gateway, people, caller, target, roles):
    headers = people.auth[caller] if caller else {}
    return requests.put(api(gateway, f"/members/{target}/roles"), json={"roles": roles}, headers=headers)


def roles_of(people, name):
    return people.app.own_profile(people.ids[name])["roles"]


def test_who_may_set_which_roles(gateway, people):
    lucas = people.ids["Lucas"]
    refused = {
        None: 401,  # anonymous
        "Camille": 403,  # a plain member
        "Admin75": 403,  # a federation admin, of another federation
    }
    for caller, status in refused.items():
        answer = put_roles(gateway, people, caller, lucas, ["member", "organizer"])
        assert answer.status_code == status, (caller, answer.text)
    # inside their federation, a federation admin hands out only organizer, candidate, moderator
    assert put_roles(gateway, people, "Admin69", lucas, ["federation_admin"]).status_code == 403
    assert put_roles(gateway, people, "Admin69", lucas, ["national_admin"]).status_code == 403
    assert roles_of(people, "Lucas") == ["member"]
    local = put_roles(gateway, people, "Admin69", lucas, ["organizer", "candidate", "moderator"])
    assert local.status_code == 200, local.text
    assert local.json()["roles"] == ["member", "organizer", "candidate", "moderator"]
    national = put_roles(gateway, people, "National", lucas, ["federation_admin"])
    assert national.status_code == 200 and national.json()["roles"] == ["member", "federation_admin"]
    revoked = put_roles(gateway, people, "National", lucas, [])
    assert revoked.status_code == 200 and revoked.json()["roles"] == ["member"]
    # every change an event with its author
    changes = [(e.member_id, e.changed_by) for e in events_of(people.app, RolesChanged) if e.member_id == lucas]
    assert changes == [(lucas, people.ids["Admin69"]), (lucas, people.ids["National"]), (lucas, people.ids["National"])]


def test_unknown_roles_are_400_and_unknown_members_404(gateway, people):
    unknown_role = put_roles(gateway, people, "National", people.ids["Lucas"], ["emperor"])
    assert unknown_role.status_code == 400 and unknown_role.json()["error"]["fields"]["roles"]
    assert put_roles(gateway, people, "National", UNKNOWN, ["organizer"]).status_code == 404
    assert roles_of(people, "Lucas") == ["member"]


def test_skills_on_the_own_profile_and_on_the_public_one_only_by_choice(gateway, people):
    auth, camille = people.auth["Camille"], people.ids["Camille"]
    assert requests.get(api(gateway, "/members/me"), headers=auth).json()["skills"] == []
    patched = requests.patch(api(gateway, "/members/me"), json={"skills": ["Prise de parole", "Graphisme"]}, headers=auth)
    assert patched.status_code == 200 and patched.json()["skills"] == ["Prise de parole", "Graphisme"]
    public = requests.get(api(gateway, f"/members/{camille}"), headers=people.auth["Lucas"]).json()
    assert "skills" not in public
    requests.patch(api(gateway, "/members/me"), json={"shown_fields": ["skills"]}, headers=auth)
    public = requests.get(api(gateway, f"/members/{camille}"), headers=people.auth["Lucas"]).json()
    assert public["skills"] == ["Prise de parole", "Graphisme"]
    for refused in (["x" * (SKILL_MAX + 1)], [f"s{n}" for n in range(1000)], "Graphisme"):
        answer = requests.patch(api(gateway, "/members/me"), json={"skills": refused}, headers=auth)
        assert answer.status_code == 400, answer.text
        assert any(name.startswith("skills") for name in answer.json()["error"]["fields"]), answer.text


def test_the_profile_form_edits_skills_as_a_comma_separated_list(gateway, people, browser):
    browser.post(gateway.url + "/connexion", data={"csrf_token": browser.csrf("/connexion"),
                                                   "email": "camille@example.org", "password": PASSWORD})
    people.app.update_profile(UpdateProfile(people.ids["Camille"], skills=("Graphisme",)), Context())
    page = browser.get(gateway.url + "/profil").text
    assert 'name="skills"' in page and 'value="Graphisme"' in page and 'name="shown_fields" value="skills"' in page
    saved = browser.post(gateway.url + "/profil", data={"csrf_token": csrf_of(page), "postcode": "69003",
                                                        "skills": "Prise de parole, graphisme ,Vidéo"})
    assert saved.status_code == 200, saved.text
    assert people.app.own_profile(people.ids["Camille"])["skills"] == ["Prise de parole", "graphisme", "Vidéo"]
