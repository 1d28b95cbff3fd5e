"""Camille forgot her password: she asks for a link, sets a new one on the site, and her old sessions end.

The whole platform runs (members, mailer, gateway); the email is read at the sink.
"""
import re
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from nameko.standalone.rpc import ClusterRpcProxy

from ..conftest import link_in, read_mails, wait_until

pytestmark = pytest.mark.integration

PASSWORD, NEW_PASSWORD = "Correct-horse-9", "Nouveau-cheval-7"


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def mails_to(platform, address):
    return [m for m in read_mails(platform.mail_dir) if m["To"] == address]


def verified_member(platform, email):
    api = platform.url + "/api"
    assert requests.post(f"{api}/members", json={"email": email, "password": PASSWORD, "postcode": "69003"}).status_code == 202
    (message,) = wait_until(lambda: mails_to(platform, email))
    token = parse_qs(urlparse(link_in(message, "http://testserver/verify?")).query)["token"][0]
    assert requests.post(f"{api}/members/verify", json={"token": token}).status_code == 200


def log_in(platform, email, password):
    return requests.post(platform.url + "/api/sessions", json={"email": email, "password": password})


def test_camille_resets_her_password_on_the_site(platform):
    api = platform.url + "/api"
    verified_member(platform, "camille@example.org")
    old_session = log_in(platform, "camille@example.org", PASSWORD).json()["token"]

    site = requests.Session()
    login_page = site.get(platform.url + "/connexion").text
    assert 'href="/mot-de-passe-oublie"' in login_page
    form = site.get(platform.url + "/mot-de-passe-oublie").text
    sent = site.post(platform.url + "/mot-de-passe-oublie", data={"csrf_token": csrf_of(form), "email": "camille@example.org"})
    assert sent.status_code == 200 and 'data-testid="forgot-sent"' in sent.text
    # An unknown address gets the same page, and no email.
    unknown = site.post(platform.url + "/mot-de-passe-oublie", data={"csrf_token": csrf_of(form), "email": "nobody@example.org"})
    assert unknown.status_code == 200 and 'data-testid="forgot-sent"' in unknown.text

    message = wait_until(lambda: [m for m in mails_to(platform, "camille@example.org")
                                  if "http://testserver/password-reset?" in m.get_body(("plain",)).get_content()])[0]
    link = link_in(message, "http://testserver/password-reset?")
    page = site.get(platform.url + link.removeprefix("http://testserver"))
    assert page.status_code == 200 and 'data-testid="reset-form"' in page.text
    token = parse_qs(urlparse(link).query)["token"][0]
    done = site.post(platform.url + "/password-reset", data={"csrf_token": csrf_of(page.text), "token": token,
                                                              "password": NEW_PASSWORD})
    assert done.status_code == 200 and 'data-testid="reset-done"' in done.text

    # Her other sessions are closed, the old password no longer works, the new one does.
    assert requests.get(f"{api}/members/me", headers={"Authorization": f"Bearer {old_session}"}).status_code == 401
    assert log_in(platform, "camille@example.org", PASSWORD).status_code == 401
    assert log_in(platform, "camille@example.org", NEW_PASSWORD).status_code == 200
    # The link is single-use.
    again = requests.post(f"{api}/members/password-reset/confirm", json={"token": token, "password": "Encore-autre-5"})
    assert again.status_code == 400
    assert not mails_to(platform, "nobody@example.org")


def test_the_api_reset_answers_the_same_for_everyone_and_refuses_forged_tokens(platform):
    api = platform.url + "/api"
    verified_member(platform, "dominique@example.org")
    known = requests.post(f"{api}/members/password-reset", json={"email": "dominique@example.org"})
    unknown = requests.post(f"{api}/members/password-reset", json={"email": "personne@example.org"})
    assert (known.status_code, known.json()) == (unknown.status_code, unknown.json()) == (202, {"status": "sent_if_registered"})
    forged = requests.post(f"{api}/members/password-reset/confirm", json={"token": "abc.def", "password": NEW_PASSWORD})
    assert forged.status_code == 400 and forged.json()["error"]["code"] == "validation_error"


def test_a_session_closed_elsewhere_stops_working_at_once(platform):
    api = platform.url + "/api"
    verified_member(platform, "eve@example.org")
    token = log_in(platform, "eve@example.org", PASSWORD).json()["token"]
    auth = {"Authorization": f"Bearer {token}"}
    assert requests.get(f"{api}/members/me", headers=auth).status_code == 200
    # Closed by another path than this gateway (another gateway process, the ops CLI).
    with ClusterRpcProxy(platform.config) as rpc:
        rpc.members.close_session(token)
    assert requests.get(f"{api}/members/me", headers=auth).status_code == 401
