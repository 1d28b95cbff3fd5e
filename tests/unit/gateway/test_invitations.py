"""Invitations through the gateway (issue 8 item 5): the API and the "Inviter" page, for
anonymous, an unverified member, the member, another member, bad input and the daily limit;
the sign-up page carrying an invitation; the Open Graph tags of the public pages.

The gateway is the real one on a socket; its calls are answered by the real members
service entrypoints over the real use cases on the in-memory database (no broker).
"""
import re
import uuid
from datetime import datetime, timedelta, timezone
from html import unescape
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from argon2 import PasswordHasher
from nameko.testing.services import worker_factory

from members import security
from members.application import MembersApp
from members.commands import OpenSession, UpdateProfile
from members.domain.session import Session
from members.events import InvitationSent, MemberRegistered
from members.projections import read_models
from members.service import MembersService
from members.throttle import Limit, RateLimits, throttle_metadata
from umpnet_kernel.events import Context
from umpnet_kernel.testing import in_memory

from ..members.use_cases import PASSWORD, SECRET, events_of, member_id_of, register, verified
from .conftest import csrf_of

METHODS = ("resolve_session", "invite", "invitation_link", "list_invitations", "register", "get_own_profile",
           "get_public_profile", "log_in_with_provider")


class People:
    def __init__(self, app):
        self.app, self.ids, self.auth, self.tokens = app, {}, {}, {}

    def add(self, name):
        email = f"{name.lower()}@example.org"
        member_id = verified(self.app, email)
        self.app.update_profile(UpdateProfile(member_id, first_name=name, last_name="Martin"), Context())
        token = self.app.open_session(OpenSession(email, PASSWORD), Context())["token"]
        self.ids[name], self.tokens[name] = member_id, token
        self.auth[name] = {"Authorization": f"Bearer {token}"}
        return member_id


@pytest.fixture
def people(gateway, monkeypatch):
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    monkeypatch.setenv("PUBLIC_URL", "http://umpnet.example")
    app = in_memory(lambda db: MembersApp(db, SECRET), read_models, throttle_metadata)
    service = worker_factory(MembersService, app=app, context=Context())
    for method in METHODS:
        gateway.handlers[method] = getattr(service, method)
    people = People(app)
    for name in ("Camille", "Sacha"):
        people.add(name)
    yield people
    app.db.dispose()


def api(gateway, path):
    return gateway.url + "/api" + path


def browser_of(people, name):
    browser = requests.Session()
    browser.cookies.set("umpnet_session", people.tokens[name])
    return browser


def test_anonymous_callers_get_401_on_every_invitations_endpoint(gateway, people):
    for answer in (requests.post(api(gateway, "/invitations"), json={"email": "lucas@example.org"}),
                   requests.get(api(gateway, "/invitations")),
                   requests.get(api(gateway, "/invitations/link")),
                   requests.post(api(gateway, "/invitations"), json={"email": "lucas@example.org"},
                                 headers={"Authorization": "Bearer not-a-session"})):
        assert answer.status_code == 401, answer.text
        assert answer.json()["error"]["code"] == "unauthorized"
    assert not gateway.called("invite") and events_of(people.app, InvitationSent) == []


def test_a_member_invites_and_gets_the_sign_up_link(gateway, people):
    sent = requests.post(api(gateway, "/invitations"), json={"email": "lucas@example.org"}, headers=people.auth["Camille"])
    assert sent.status_code == 201, sent.text
    body = sent.json()
    assert set(body) == {"id", "token", "url"}
    assert body["url"] == f"http://umpnet.example/inscription?invitation={body['token']}"
    assert people.app.links.nonce_of("invitation", body["token"]) == events_of(people.app, InvitationSent)[0].link_nonce
    listed = requests.get(api(gateway, "/invitations"), headers=people.auth["Camille"]).json()
    assert [(i["email"], i["status"], i["via"]) for i in listed["items"]] == [("lucas@example.org", "sent", "email")]
    assert listed["next_cursor"] is None
    # Another member sees none of it.
    assert requests.get(api(gateway, "/invitations"), headers=people.auth["Sacha"]).json()["items"] == []
    # The same address again: the same answer, no second invitation (nor email).
    again = requests.post(api(gateway, "/invitations"), json={"email": "lucas@example.org"}, headers=people.auth["Camille"])
    assert again.status_code == 201 and again.json() == body
    assert len(events_of(people.app, InvitationSent)) == 1


def test_inviting_a_member_answers_exactly_as_inviting_a_stranger(gateway, people):
    to_member = requests.post(api(gateway, "/invitations"), json={"email": "sacha@example.org"}, headers=people.auth["Camille"])
    to_stranger = requests.post(api(gateway, "/invitations"), json={"email": "nobody@example.org"}, headers=people.auth["Camille"])
    assert to_member.status_code == to_stranger.status_code == 201
    assert set(to_member.json()) == set(to_stranger.json())


@pytest.mark.parametrize("body", [{"email": "not-an-address"}, {"email": ""}, {}, {"email": "a" * 300 + "@example.org"},
                                  {"email": ["lucas@example.org"]}])
def test_a_bad_email_is_a_400_that_writes_nothing(gateway, people, body):
    answer = requests.post(api(gateway, "/invitations"), json=body, headers=people.auth["Camille"])
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "validation_error" and "email" in answer.json()["error"]["fields"]
    assert events_of(people.app, InvitationSent) == []


def test_past_the_daily_limit_invitations_are_429_with_retry_after(gateway, people):
    people.app.limits = RateLimits(invitations_per_member=Limit(2, timedelta(days=1)))
    auth = people.auth["Camille"]
    for i in range(2):
        assert requests.post(api(gateway, "/invitations"), json={"email": f"f{i}@example.org"}, headers=auth).status_code == 201
    refused = requests.post(api(gateway, "/invitations"), json={"email": "f9@example.org"}, headers=auth)
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 3600
    assert len(events_of(people.app, InvitationSent)) == 2
    # The limit is the member's: Sacha still invites.
    assert requests.post(api(gateway, "/invitations"), json={"email": "f9@example.org"},
                         headers=people.auth["Sacha"]).status_code == 201


def test_a_member_whose_address_is_not_verified_cannot_invite(gateway, people):
    """No login opens a session for them today; should one ever, the members service still refuses."""
    register(people.app, "unverified@example.org")
    member_id = member_id_of(people.app, "unverified@example.org")
    token, token_hash = security.new_session_token()
    people.app.execute(Context(), lambda uow: uow.add(Session.start(
        str(uuid.uuid4()), member_id, token_hash, datetime.now(timezone.utc) + timedelta(days=1))))
    auth = {"Authorization": f"Bearer {token}"}
    answer = requests.post(api(gateway, "/invitations"), json={"email": "lucas@example.org"}, headers=auth)
    assert answer.status_code == 403 and answer.json()["error"]["code"] == "forbidden"
    assert requests.get(api(gateway, "/invitations/link"), headers=auth).status_code == 403
    assert events_of(people.app, InvitationSent) == []


def test_the_personal_link_is_stable_and_shares_on_facebook(gateway, people):
    first = requests.get(api(gateway, "/invitations/link"), headers=people.auth["Camille"])
    assert first.status_code == 200, first.text
    link = first.json()
    assert link == requests.get(api(gateway, "/invitations/link"), headers=people.auth["Camille"]).json()
    assert link["url"] == f"http://umpnet.example/inscription?invitation={link['token']}"
    shared = urlparse(link["facebook_share_url"])
    assert (shared.netloc, shared.path) == ("www.facebook.com", "/sharer/sharer.php")
    assert parse_qs(shared.query)["u"] == [link["url"]]
    assert requests.get(api(gateway, "/invitations/link"), headers=people.auth["Sacha"]).json()["token"] != link["token"]


def test_the_invite_page_sends_shows_the_link_and_lists(gateway, people):
    assert requests.get(gateway.url + "/inviter", allow_redirects=False).headers["Location"].endswith("/connexion")
    browser = browser_of(people, "Camille")
    page = browser.get(gateway.url + "/inviter")
    assert page.status_code == 200 and 'href="/inviter"' in page.text
    assert "Vous n’avez encore invité personne." in page.text
    link = requests.get(api(gateway, "/invitations/link"), headers=people.auth["Camille"]).json()
    assert link["url"] in unescape(page.text) and link["facebook_share_url"] in unescape(page.text)

    forged = browser.post(gateway.url + "/inviter", data={"csrf_token": "forged", "email": "lucas@example.org"})
    assert forged.status_code == 403 and events_of(people.app, InvitationSent) == []

    bad = browser.post(gateway.url + "/inviter", data={"csrf_token": csrf_of(page.text), "email": "nope"})
    assert bad.status_code == 400 and 'data-testid="invitation-email-error"' in bad.text
    sent = browser.post(gateway.url + "/inviter", data={"csrf_token": csrf_of(page.text), "email": "lucas@example.org"})
    assert sent.status_code == 200 and "Votre invitation est envoyée." in sent.text
    assert "lucas@example.org" in sent.text and "Envoyée" in sent.text
    assert [e.email for e in events_of(people.app, InvitationSent)] == ["lucas@example.org"]


def test_the_invite_page_with_a_stale_cursor_shows_the_first_page(gateway, people):
    browser = browser_of(people, "Camille")
    requests.post(api(gateway, "/invitations"), json={"email": "lucas@example.org"}, headers=people.auth["Camille"])
    page = browser.get(gateway.url + "/inviter", params={"cursor": "stale"})
    assert page.status_code == 200 and "lucas@example.org" in page.text


def test_the_invite_page_says_when_the_daily_limit_is_reached(gateway, people):
    people.app.limits = RateLimits(invitations_per_member=Limit(1, timedelta(days=1)))
    browser = browser_of(people, "Camille")
    csrf = csrf_of(browser.get(gateway.url + "/inviter").text)
    assert browser.post(gateway.url + "/inviter", data={"csrf_token": csrf, "email": "a@example.org"}).status_code == 200
    refused = browser.post(gateway.url + "/inviter", data={"csrf_token": csrf, "email": "b@example.org"})
    assert refused.status_code == 429 and "Retry-After" in refused.headers and "réessayez demain" in refused.text


def test_the_sign_up_page_carries_the_invitation_and_credits_the_inviter(gateway, people):
    token = requests.post(api(gateway, "/invitations"), json={"email": "lucas@example.org"},
                          headers=people.auth["Camille"]).json()["token"]
    browser = requests.Session()
    page = browser.get(gateway.url + "/inscription", params={"invitation": token})
    assert f'name="invitation_token" value="{token}"' in page.text
    assert f'<meta property="og:url" content="http://umpnet.example/inscription?invitation={token}">' in page.text
    done = browser.post(gateway.url + "/inscription", data={
        "csrf_token": csrf_of(page.text), "email": "lucas@example.org", "password": PASSWORD,
        "postcode": "75011", "invitation_token": token})
    assert done.status_code == 200, done.text
    (lucas,) = [e for e in events_of(people.app, MemberRegistered) if e.email == "lucas@example.org"]
    assert lucas.invited_by == people.ids["Camille"]


@pytest.mark.parametrize("token", ["garbage", "x" * 5000])
def test_a_bad_invitation_on_the_sign_up_page_does_not_block_it(gateway, people, token):
    browser = requests.Session()
    page = browser.get(gateway.url + "/inscription", params={"invitation": token})
    assert page.status_code == 200
    done = browser.post(gateway.url + "/inscription", data={
        "csrf_token": csrf_of(page.text), "email": "lucas@example.org", "password": PASSWORD,
        "postcode": "75011", "invitation_token": token})
    assert done.status_code == 200, done.text
    assert [e.invited_by for e in events_of(people.app, MemberRegistered) if e.email == "lucas@example.org"] == [None]


def og(html):
    return dict(re.findall(r'<meta property="og:(\w+)" content="([^"]*)">', html))


def test_public_pages_carry_open_graph_tags(gateway, people):
    home = og(requests.get(gateway.url + "/").text)
    assert home == {"site_name": "Fédération numérique", "title": "Rejoignez la fédération numérique",
                    "description": home["description"], "url": "http://umpnet.example/", "type": "website"}
    assert home["description"]
    signup = og(requests.get(gateway.url + "/inscription").text)
    assert signup["url"] == "http://umpnet.example/inscription" and signup["type"] == "website"
    # A member's profile: only what they show.
    sacha = people.ids["Sacha"]
    people.app.update_profile(UpdateProfile(sacha, bio="Militante <associative>"), Context())
    page = browser_of(people, "Camille").get(f"{gateway.url}/membres/{sacha}").text
    tags = og(page)
    assert (tags["title"], tags["type"], tags["url"]) == ("Sacha M. · Fédération numérique", "profile",
                                                         f"http://umpnet.example/membres/{sacha}")
    assert "Militante" not in tags["description"]  # the bio is not shown yet
    people.app.update_profile(UpdateProfile(sacha, shown_fields=("bio",)), Context())
    tags = og(browser_of(people, "Camille").get(f"{gateway.url}/membres/{sacha}").text)
    assert tags["description"] == "Militante &lt;associative&gt;"


@pytest.mark.parametrize("token", ["x" * 5000, 12, ["a"], None, ""])
def test_the_api_sign_up_takes_any_invitation_token_and_answers_202(gateway, people, token):
    answer = requests.post(api(gateway, "/members"), json={"email": "lucas@example.org", "password": PASSWORD,
                                                         "postcode": "75011", "invitation_token": token})
    assert answer.status_code == 202, answer.text
    assert [e.invited_by for e in events_of(people.app, MemberRegistered) if e.email == "lucas@example.org"] == [None]
