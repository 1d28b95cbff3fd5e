"""Talents and the roles form through the gateway (issue 8 items 7, 8), over the real
members service entrypoints and use cases on the in-memory database (as
test_roles_and_skills.py).

`GET /api/talents` for anonymous, a member, a federation admin in and outside their
federation, a national admin; the "Talents" page and its nav link; the roles form
on a member's page: who sees it, who may post it, and its refusals in French.
"""
import pytest
import requests
from argon2 import PasswordHasher
from nameko.testing.services import worker_factory

from members import security
from members.application import MembersApp
from members.commands import AcceptContact, GrantRole, RequestContact, UpdateProfile
from members.projections import read_models
from members.service import MembersService
from members.throttle import throttle_metadata
from umpnet_kernel.events import Context
from umpnet_kernel.testing import in_memory

from ..members.use_cases import PASSWORD, SECRET
from .conftest import csrf_of
from .test_contacts import People, api

METHODS = ("open_session", "resolve_session", "list_talents", "role_choices", "set_roles", "get_public_profile",
           "get_own_profile", "update_own_profile", "list_federations")


@pytest.fixture
def people(gateway, monkeypatch):
    """Camille, Lucas, Admin69 in the Rhône (69); Sacha, Admin75 in Paris (75); National."""
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    app = in_memory(lambda db: MembersApp(db, SECRET), read_models, throttle_metadata)
    service = worker_factory(MembersService, app=app, context=Context())
    for method in METHODS:
        gateway.handlers[method] = getattr(service, method)
    people = People(app)
    for name in ("Camille", "Lucas", "Sacha", "Admin69", "Admin75", "National"):
        people.add(name)  # all in 69 (postcode 69003)
    for name in ("Sacha", "Admin75"):
        app.update_profile(UpdateProfile(people.ids[name], postcode="75011"), Context())
    for name, role in (("Admin69", "federation_admin"), ("Admin75", "federation_admin"), ("National", "national_admin")):
        app.grant_role(GrantRole(f"{name.lower()}@example.org", role), Context())
    contacts(app, people.ids["Camille"], people.ids["Lucas"])  # 3 each
    contacts(app, people.ids["Camille"], people.ids["Sacha"])  # Camille 6, Sacha 3
    app.update_profile(UpdateProfile(people.ids["Lucas"], blog_url="https://lucas.example.org"), Context())  # Lucas 8
    yield people
    app.db.dispose()


def contacts(app, a, b):
    app.request_contact(RequestContact(a, b), Context())
    app.accept_contact(AcceptContact(b, a), Context())


def talents(gateway, people, caller, **query):
    return requests.get(api(gateway, "/talents"), params=query, headers=people.auth[caller] if caller else {})


def ranked(answer):
    assert answer.status_code == 200, answer.text
    return [(item["display_name"], item["score"]) for item in answer.json()["items"]]


def test_who_may_read_which_ranking(gateway, people):
    assert talents(gateway, people, None).status_code == 401
    assert talents(gateway, people, "Camille").status_code == 403
    assert talents(gateway, people, "Camille", federation="69").status_code == 403
    # a federation admin: their own federation, by default or by name; never another's
    assert ranked(talents(gateway, people, "Admin69")) == [("Lucas M.", 8.0), ("Camille M.", 6.0)]
    assert ranked(talents(gateway, people, "Admin69", federation="69")) == [("Lucas M.", 8.0), ("Camille M.", 6.0)]
    assert ranked(talents(gateway, people, "Admin75")) == [("Sacha M.", 3.0)]
    for caller, federation in (("Admin69", "75"), ("Admin75", "69"), ("Admin69", "numerique")):
        refused = talents(gateway, people, caller, federation=federation)
        assert refused.status_code == 403, (caller, federation, refused.text)
        assert refused.json()["error"]["message"] == "Vous ne voyez que le classement de votre fédération."
    # a national admin: everyone, or any federation
    assert ranked(talents(gateway, people, "National")) == [("Lucas M.", 8.0), ("Camille M.", 6.0), ("Sacha M.", 3.0)]
    assert ranked(talents(gateway, people, "National", federation="75")) == [("Sacha M.", 3.0)]
    assert ranked(talents(gateway, people, "National", federation="33")) == []


def test_the_ranking_has_api_mds_shape_and_pages(gateway, people):
    body = talents(gateway, people, "National", limit="2").json()
    assert [set(item) for item in body["items"]] == [{"member_id", "display_name", "score", "breakdown"}] * 2
    assert body["items"][0] == {"member_id": people.ids["Lucas"], "display_name": "Lucas M.", "score": 8.0,
                                "breakdown": {"blog": 5.0, "contacts": 3.0}}
    rest = talents(gateway, people, "National", limit="2", cursor=body["next_cursor"]).json()
    assert ranked_items(rest) == [("Sacha M.", 3.0)] and rest["next_cursor"] is None


def ranked_items(body):
    return [(item["display_name"], item["score"]) for item in body["items"]]


@pytest.mark.parametrize("query", [{"limit": "0"}, {"limit": "abc"}, {"cursor": "nope"}, {"federation": "999"},
                                   {"federation": "x" * 500}])
def test_bad_queries_are_400s_in_french(gateway, people, query):
    answer = talents(gateway, people, "National", **query)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] in ("validation_error", "bad_cursor")


def log_in(gateway, browser, name):
    answer = browser.post(gateway.url + "/connexion", data={"csrf_token": browser.csrf("/connexion"),
                                                             "email": f"{name.lower()}@example.org", "password": PASSWORD})
    assert answer.status_code == 200, answer.text  # the profile page, after the redirect


def test_the_talents_page_and_its_nav_link_are_for_admins_only(gateway, people, browser):
    assert browser.get(gateway.url + "/admin/talents", allow_redirects=False).status_code == 303  # to the login
    log_in(gateway, browser, "Camille")
    assert 'href="/admin/talents"' not in browser.get(gateway.url + "/profil").text
    refused = browser.get(gateway.url + "/admin/talents")
    assert refused.status_code == 403 and "réservé aux administrateurs" in refused.text


def test_a_federation_admin_sees_their_federations_ranking(gateway, people, browser):
    log_in(gateway, browser, "Admin69")
    assert 'href="/admin/talents"' in browser.get(gateway.url + "/profil").text
    page = browser.get(gateway.url + "/admin/talents").text
    assert "Lucas M." in page and "Camille M." in page and "Sacha M." not in page
    assert "8,0 points" in page and "Blog renseigné" in page
    assert 'data-testid="talents-federation"' not in page  # no selector
    other = browser.get(gateway.url + "/admin/talents", params={"federation": "75"}).text
    assert "Sacha M." not in other  # the query is ignored: their own federation only


def test_a_national_admin_picks_the_federation(gateway, people, browser):
    log_in(gateway, browser, "National")
    page = browser.get(gateway.url + "/admin/talents").text
    assert 'data-testid="talents-federation"' in page and '<option value="75"' in page
    assert all(name in page for name in ("Lucas M.", "Camille M.", "Sacha M."))
    paris = browser.get(gateway.url + "/admin/talents", params={"federation": "75"}).text
    assert "Sacha M." in paris and "Lucas M." not in paris and '<option value="75" selected' in paris
    first = browser.get(gateway.url + "/admin/talents", params={"federation": "75", "cursor": "stale"})
    assert first.status_code == 200 and "Sacha M." in first.text  # a stale cursor: the first page


# -- the roles form ----------------------------------------------------------------
def roles_url(gateway, people, name):
    return f"{gateway.url}/membres/{people.ids[name]}/roles"


def roles_of(people, name):
    return people.app.own_profile(people.ids[name])["roles"]


def test_who_sees_the_roles_form(gateway, people, browser):
    lucas_page = f"{gateway.url}/membres/{people.ids['Lucas']}"
    log_in(gateway, browser, "Camille")
    assert "member-manage-roles" not in browser.get(lucas_page).text
    assert browser.get(roles_url(gateway, people, "Lucas")).status_code == 403
    browser.cookies.clear()
    log_in(gateway, browser, "Admin75")  # a federation admin, of another federation
    assert "member-manage-roles" not in browser.get(lucas_page).text
    refused = browser.get(roles_url(gateway, people, "Lucas"))
    assert refused.status_code == 403 and 'data-testid="roles-form"' not in refused.text
    browser.cookies.clear()
    log_in(gateway, browser, "Admin69")
    assert "member-manage-roles" in browser.get(lucas_page).text
    form = browser.get(roles_url(gateway, people, "Lucas")).text
    assert 'data-testid="roles-form"' in form
    offered = [role for role in ("organizer", "candidate", "moderator", "federation_admin", "national_admin")
               if f'value="{role}"' in form]
    assert offered == ["organizer", "candidate", "moderator"]
    browser.cookies.clear()
    log_in(gateway, browser, "National")
    form = browser.get(roles_url(gateway, people, "Sacha")).text
    assert 'value="federation_admin"' in form and 'value="national_admin"' in form


def test_a_federation_admin_grants_local_roles_and_keeps_the_others(gateway, people, browser):
    people.app.grant_role(GrantRole("lucas@example.org", "federation_admin"), Context())
    log_in(gateway, browser, "Admin69")
    form = browser.get(roles_url(gateway, people, "Lucas")).text
    saved = browser.post(roles_url(gateway, people, "Lucas"),
                         data={"csrf_token": csrf_of(form), "roles": ["organizer", "moderator"]})
    assert saved.status_code == 200 and 'data-testid="roles-done"' in saved.text
    assert roles_of(people, "Lucas") == ["member", "organizer", "moderator", "federation_admin"]
    again = browser.post(roles_url(gateway, people, "Lucas"), data={"csrf_token": csrf_of(saved.text), "roles": []})
    assert again.status_code == 200
    assert roles_of(people, "Lucas") == ["member", "federation_admin"]  # not theirs to take away


def test_refused_role_changes_change_nothing_and_say_why_in_french(gateway, people, browser):
    log_in(gateway, browser, "Admin69")
    form = browser.get(roles_url(gateway, people, "Lucas")).text
    token = csrf_of(form)
    beyond = browser.post(roles_url(gateway, people, "Lucas"), data={"csrf_token": token, "roles": ["national_admin"]})
    assert beyond.status_code == 403 and "Vous ne pouvez pas attribuer ce rôle." in beyond.text
    forged = browser.post(roles_url(gateway, people, "Lucas"), data={"csrf_token": "forged", "roles": ["organizer"]})
    assert forged.status_code == 403 and "Ce formulaire a expiré" in forged.text
    other = browser.post(roles_url(gateway, people, "Sacha"), data={"csrf_token": token, "roles": ["organizer"]})
    assert other.status_code == 403  # Sacha is in Paris
    assert roles_of(people, "Lucas") == roles_of(people, "Sacha") == ["member"]
    browser.cookies.clear()
    log_in(gateway, browser, "National")
    form = browser.get(roles_url(gateway, people, "National")).text
    alone = browser.post(roles_url(gateway, people, "National"), data={"csrf_token": csrf_of(form), "roles": []})
    assert alone.status_code == 400 and "Nommez d" in alone.text  # the last national admin stays
    assert roles_of(people, "National") == ["member", "national_admin"]
