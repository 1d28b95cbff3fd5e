"""Contacts through the gateway (issue 8 item 4): every endpoint and the "Mes contacts" page,
for anonymous, the member, the other member, a stranger, and bad input.

The gateway is the real one on a socket; its calls are answered by the real members
service entrypoints over a real use-case layer on the in-memory database (no broker):
what is under test is the edge and the rules it relies on, together.
"""
import pytest
import requests
from argon2 import PasswordHasher
from nameko.testing.services import worker_factory

from members import security
from members.application import MembersApp
from members.commands import OpenSession, UpdateProfile
from members.projections import read_models
from members.service import MembersService
from members.throttle import throttle_metadata
from umpnet_kernel.events import Context
from umpnet_kernel.testing import in_memory

from ..members.use_cases import PASSWORD, SECRET, verified
from .conftest import csrf_of

CONTACT_METHODS = ("resolve_session", "request_contact", "accept_contact", "remove_contact", "list_contacts",
                   "get_public_profile", "get_own_profile", "update_own_profile")
UNKNOWN = "00000000-0000-4000-8000-000000000000"


class People:
    """Members of a real (in-memory) members app, each with a bearer token."""

    def __init__(self, app):
        self.app = app
        self.ids, self.auth, self.tokens = {}, {}, {}

    def add(self, name, accepts=True):
        """A verified member with a name, who kept a new member's "accept contact requests" (or unticked it)."""
        email = f"{name.lower()}@example.org"
        member_id = verified(self.app, email)
        choice = {} if accepts else {"accepts_contact_requests": False}
        self.app.update_profile(UpdateProfile(member_id, first_name=name, last_name="Martin", **choice), Context())
        token = self.app.open_session(OpenSession(email, PASSWORD), Context())["token"]
        self.ids[name], self.tokens[name] = member_id, token
        self.auth[name] = {"Authorization": f"Bearer {token}"}
        return member_id


@pytest.fixture
def people(gateway, monkeypatch):
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    app = in_memory(lambda db: MembersApp(db, SECRET), read_models, throttle_metadata)
    service = worker_factory(MembersService, app=app, context=Context())
    for method in CONTACT_METHODS:
        gateway.handlers[method] = getattr(service, method)
    people = People(app)
    for name in ("Camille", "Lucas", "Sacha"):
        people.add(name)
    yield people
    app.db.dispose()


def api(gateway, path):
    return gateway.url + "/api" + path


def contacts_of(gateway, people, name):
    answer = requests.get(api(gateway, "/contacts"), headers=people.auth[name])
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_anonymous_callers_get_401_on_every_contacts_endpoint(gateway, people):
    lucas = people.ids["Lucas"]
    for answer in (requests.get(api(gateway, "/contacts")),
                   requests.post(api(gateway, "/contacts"), json={"member_id": lucas}),
                   requests.post(api(gateway, f"/contacts/{lucas}/accept")),
                   requests.delete(api(gateway, f"/contacts/{lucas}")),
                   requests.get(api(gateway, "/contacts"), headers={"Authorization": "Bearer not-a-session"})):
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"]["code"] == "unauthorized"
    assert not gateway.called("request_contact") and not gateway.called("list_contacts")


def test_camille_asks_lucas_who_accepts_and_they_see_each_others_email(gateway, people):
    camille, lucas = people.ids["Camille"], people.ids["Lucas"]
    asked = requests.post(api(gateway, "/contacts"), json={"member_id": lucas}, headers=people.auth["Camille"])
    assert asked.status_code == 201, asked.text
    assert asked.json() == {"member_id": lucas, "display_name": "Lucas M.", "status": "outgoing"}
    assert contacts_of(gateway, people, "Lucas") == {
        "items": [{"member_id": camille, "display_name": "Camille M.", "status": "incoming"}], "next_cursor": None}
    assert "email" not in requests.get(api(gateway, f"/members/{lucas}"), headers=people.auth["Camille"]).json()

    accepted = requests.post(api(gateway, f"/contacts/{camille}/accept"), headers=people.auth["Lucas"])
    assert accepted.status_code == 200 and accepted.json()["status"] == "accepted"
    assert contacts_of(gateway, people, "Camille")["items"][0]["status"] == "accepted"
    seen = requests.get(api(gateway, f"/members/{lucas}"), headers=people.auth["Camille"]).json()
    assert seen["email"] == "lucas@example.org" and seen["contact_status"] == "accepted"
    assert requests.get(api(gateway, f"/members/{camille}"), headers=people.auth["Lucas"]).json()["email"] == \
        "camille@example.org"
    # a stranger sees neither
    assert "email" not in requests.get(api(gateway, f"/members/{lucas}"), headers=people.auth["Sacha"]).json()


def test_only_the_addressee_accepts(gateway, people):
    camille, lucas = people.ids["Camille"], people.ids["Lucas"]
    requests.post(api(gateway, "/contacts"), json={"member_id": lucas}, headers=people.auth["Camille"])
    own = requests.post(api(gateway, f"/contacts/{lucas}/accept"), headers=people.auth["Camille"])
    assert own.status_code == 403 and own.json()["error"]["code"] == "forbidden"
    for target in (camille, lucas):  # Sacha has no request from either
        stranger = requests.post(api(gateway, f"/contacts/{target}/accept"), headers=people.auth["Sacha"])
        assert stranger.status_code == 404 and stranger.json()["error"]["code"] == "not_found"
    assert contacts_of(gateway, people, "Lucas")["items"][0]["status"] == "incoming"


def test_duplicates_oneself_unknown_members_and_refused_requests(gateway, people):
    lucas, camille = people.ids["Lucas"], people.ids["Camille"]
    auth = people.auth["Camille"]
    assert requests.post(api(gateway, "/contacts"), json={"member_id": lucas}, headers=auth).status_code == 201
    twice = requests.post(api(gateway, "/contacts"), json={"member_id": lucas}, headers=auth)
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "conflict"
    me = requests.post(api(gateway, "/contacts"), json={"member_id": camille}, headers=auth)
    assert me.status_code == 400 and "member_id" in me.json()["error"]["fields"]
    unknown = requests.post(api(gateway, "/contacts"), json={"member_id": UNKNOWN}, headers=auth)
    assert unknown.status_code == 404
    shy = people.add("Dominique", accepts=False)
    refused = requests.post(api(gateway, "/contacts"), json={"member_id": shy}, headers=auth)
    assert refused.status_code == 403, refused.text
    assert refused.json()["error"]["code"] == "contact_requests_refused"
    assert refused.json()["error"]["fields"]["member_id"]


def test_a_member_accepts_requests_until_they_untick_it_on_their_profile(gateway, people):
    """A fresh member can be asked (API.md: POST /api/contacts → 201); the party's contact_consent plays no part."""
    lucas, auth = people.ids["Lucas"], people.auth["Lucas"]
    me = requests.get(api(gateway, "/members/me"), headers=auth).json()
    assert (me["accepts_contact_requests"], me["contact_consent"]) == (True, False)
    patched = requests.patch(api(gateway, "/members/me"), json={"accepts_contact_requests": False}, headers=auth)
    assert patched.status_code == 200 and patched.json()["accepts_contact_requests"] is False
    refused = requests.post(api(gateway, "/contacts"), json={"member_id": lucas}, headers=people.auth["Camille"])
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "contact_requests_refused"
    # Consenting to the party's mail opens nothing; ticking the choice again does.
    requests.patch(api(gateway, "/members/me"), json={"contact_consent": True}, headers=auth)
    assert requests.post(api(gateway, "/contacts"), json={"member_id": lucas},
                         headers=people.auth["Camille"]).status_code == 403
    requests.patch(api(gateway, "/members/me"), json={"accepts_contact_requests": True, "contact_consent": False},
                   headers=auth)
    assert requests.post(api(gateway, "/contacts"), json={"member_id": lucas},
                         headers=people.auth["Camille"]).status_code == 201


def test_delete_declines_withdraws_and_removes(gateway, people):
    camille, lucas = people.ids["Camille"], people.ids["Lucas"]
    requests.post(api(gateway, "/contacts"), json={"member_id": lucas}, headers=people.auth["Camille"])
    declined = requests.delete(api(gateway, f"/contacts/{camille}"), headers=people.auth["Lucas"])
    assert declined.status_code == 204 and declined.text == ""
    assert contacts_of(gateway, people, "Camille")["items"] == []
    again = requests.delete(api(gateway, f"/contacts/{camille}"), headers=people.auth["Lucas"])
    assert again.status_code == 404
    requests.post(api(gateway, "/contacts"), json={"member_id": camille}, headers=people.auth["Lucas"])
    crossing = requests.post(api(gateway, "/contacts"), json={"member_id": lucas}, headers=people.auth["Camille"])
    assert crossing.status_code == 201 and crossing.json()["status"] == "accepted"
    assert requests.delete(api(gateway, f"/contacts/{lucas}"), headers=people.auth["Camille"]).status_code == 204
    assert contacts_of(gateway, people, "Lucas")["items"] == []


@pytest.mark.parametrize("body", [
    b"", b"{}", b'{"member_id": "not-a-uuid"}', b'{"member_id": 12}', b'{"member_id": null}', b"[1]", b"{",
    b'{"member_id": "' + b"a" * 5000 + b'"}',
])
def test_bad_request_bodies_are_400_with_the_envelope(gateway, people, body):
    answer = requests.post(api(gateway, "/contacts"), data=body,
                           headers={**people.auth["Camille"], "Content-Type": "application/json"})
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "validation_error"
    assert not gateway.called("request_contact")


def test_bad_ids_in_the_path_and_bad_pages_are_client_errors_never_500(gateway, people):
    auth = people.auth["Camille"]
    hexish = requests.post(api(gateway, "/contacts/deadbeef-dead/accept"), headers=auth)
    assert hexish.status_code == 400 and hexish.json()["error"]["fields"]["member_id"]
    assert requests.delete(api(gateway, "/contacts/deadbeefdeadbeef"), headers=auth).status_code == 400
    not_an_id = requests.post(api(gateway, "/contacts/not-a-uuid/accept"), headers=auth)
    assert not_an_id.status_code == 404 and not_an_id.json()["error"]["code"] == "not_found"
    assert requests.get(api(gateway, "/contacts?limit=0"), headers=auth).status_code == 400
    cursor = requests.get(api(gateway, "/contacts?cursor=garbage"), headers=auth)
    assert cursor.status_code == 400 and cursor.json()["error"]["code"] == "bad_cursor"
    assert not gateway.called("accept_contact") and not gateway.called("remove_contact")


def test_the_list_is_paged_with_limit_and_cursor(gateway, people):
    others = [people.add(f"Membre{i}") for i in range(3)]
    for other in others:
        requests.post(api(gateway, "/contacts"), json={"member_id": other}, headers=people.auth["Camille"])
    first = requests.get(api(gateway, "/contacts?limit=2"), headers=people.auth["Camille"]).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = requests.get(api(gateway, "/contacts"), params={"limit": 2, "cursor": first["next_cursor"]},
                        headers=people.auth["Camille"]).json()
    assert [c["member_id"] for c in first["items"] + rest["items"]] == others[::-1]
    assert rest["next_cursor"] is None


def test_the_openapi_document_lists_the_contacts_endpoints(gateway):
    paths = requests.get(gateway.url + "/api/openapi.json").json()["paths"]
    assert set(paths["/api/contacts"]) == {"get", "post"}
    assert "201" in paths["/api/contacts"]["post"]["responses"]
    assert {p["name"] for p in paths["/api/contacts"]["get"]["parameters"]} == {"limit", "cursor"}
    assert "post" in paths["/api/contacts/{member_id}/accept"] and "delete" in paths["/api/contacts/{member_id}"]


# -- the site ------------------------------------------------------------------------
def site_session(gateway, people, name):
    browser = requests.Session()
    browser.cookies.set("umpnet_session", people.tokens[name])
    browser.csrf = lambda path: csrf_of(browser.get(gateway.url + path).text)
    return browser


def test_the_contacts_page_needs_a_login(gateway, people):
    answer = requests.get(gateway.url + "/contacts", allow_redirects=False)
    assert answer.status_code == 303 and answer.headers["Location"] == "/connexion"
    assert requests.get(gateway.url + f"/membres/{people.ids['Lucas']}", allow_redirects=False).status_code == 303


def test_camille_asks_from_lucass_page_and_lucas_accepts_on_his_contacts_page(gateway, people):
    camille, lucas = people.ids["Camille"], people.ids["Lucas"]
    as_camille, as_lucas = site_session(gateway, people, "Camille"), site_session(gateway, people, "Lucas")
    profile = as_camille.get(gateway.url + f"/membres/{lucas}")
    assert profile.status_code == 200 and 'data-testid="member-request-contact"' in profile.text
    assert "Demander en contact" in profile.text and "lucas@example.org" not in profile.text
    sent = as_camille.post(gateway.url + "/contacts", data={"csrf_token": csrf_of(profile.text), "action": "request",
                                                            "member_id": lucas})
    assert sent.status_code == 200 and 'data-testid="contacts-done"' in sent.text
    assert f'data-testid="contact-remove-{lucas}"' in sent.text and "Demande envoyée" in sent.text

    page = as_lucas.get(gateway.url + "/contacts")
    assert f'data-testid="contact-accept-{camille}"' in page.text and "Demande reçue" in page.text
    accepted = as_lucas.post(gateway.url + "/contacts", data={"csrf_token": csrf_of(page.text), "action": "accept",
                                                              "member_id": camille})
    assert accepted.status_code == 200 and "Vous êtes désormais en contact." in accepted.text
    assert "camille@example.org" in as_lucas.get(gateway.url + f"/membres/{camille}").text
    # and Lucas removes her again
    removed = as_lucas.post(gateway.url + "/contacts", data={"csrf_token": csrf_of(accepted.text), "action": "remove",
                                                             "member_id": camille})
    assert removed.status_code == 200 and 'data-testid="contacts-empty"' in removed.text


def test_the_contacts_page_refuses_forgeries_and_says_why_a_request_failed(gateway, people):
    lucas = people.ids["Lucas"]
    as_camille = site_session(gateway, people, "Camille")
    forged = as_camille.post(gateway.url + "/contacts", data={"csrf_token": "made-up", "action": "request",
                                                              "member_id": lucas})
    assert forged.status_code == 403 and not gateway.called("request_contact")
    own = as_camille.post(gateway.url + "/contacts", data={"csrf_token": as_camille.csrf("/contacts"),
                                                           "action": "request", "member_id": people.ids["Camille"]})
    assert own.status_code == 400 and 'data-testid="contacts-error"' in own.text
    for bad in ({"action": "request", "member_id": "nope"}, {"action": "explode", "member_id": lucas}, {}):
        answer = as_camille.post(gateway.url + "/contacts", data={"csrf_token": as_camille.csrf("/contacts"), **bad})
        assert answer.status_code == 400, bad
    assert as_camille.get(gateway.url + "/contacts?cursor=garbage").status_code == 200  # a stale bookmark
