"""Log in with Facebook (issue 8 item 9), end to end against a small OAuth 2 provider
started on loopback (authorize redirect, token endpoint, userinfo), driving the
gateway's site pages with a browser-like session; the members service's real use
cases answer on the in-memory database.
"""
import json
from html import unescape
import secrets
import threading
from urllib.parse import parse_qs, urlencode, urlparse
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
import requests
from argon2 import PasswordHasher
from nameko.testing.services import worker_factory

from members import security
from members.application import MembersApp
from members.events import ExternalIdentityLinked, MemberRegistered
from members.projections import read_models
from members.service import MembersService
from members.throttle import throttle_metadata
from umpnet_kernel.events import Context
from umpnet_kernel.testing import in_memory

from ..members.use_cases import SECRET, events_of, register, verified

CLIENT_ID, CLIENT_SECRET = "umpnet-app", "provider-secret"


class Provider:
    """A tiny OAuth 2 provider: /authorize consents at once for `account`, /token swaps
    a code it issued (to our client, for the same redirect URI), /me answers the account."""

    def __init__(self):
        self.account = {"id": "fb-1001", "email": "camille@example.org", "email_verified": True}
        self.codes, self.tokens, self.seen = {}, {}, []

    def __call__(self, environ, start_response):
        path, query = environ["PATH_INFO"], parse_qs(environ.get("QUERY_STRING", ""))
        self.seen.append(path)
        if path == "/authorize":
            assert query["client_id"] == [CLIENT_ID] and query["response_type"] == ["code"]
            code = secrets.token_urlsafe(8)
            self.codes[code] = query["redirect_uri"][0]
            back = f"{query['redirect_uri'][0]}?{urlencode({'code': code, 'state': query['state'][0]})}"
            start_response("302 Found", [("Location", back)])
            return [b""]
        if path == "/token":
            form = parse_qs(environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0)).decode())
            code = form.get("code", [""])[0]
            if (form.get("client_secret") != [CLIENT_SECRET] or code not in self.codes
                    or form.get("redirect_uri") != [self.codes.pop(code)]):
                return self._json(start_response, "400 Bad Request", {"error": "invalid_grant"})
            token = secrets.token_urlsafe(12)
            self.tokens[token] = dict(self.account)
            return self._json(start_response, "200 OK", {"access_token": token, "token_type": "bearer", "expires_in": 3600})
        if path == "/me":
            token = environ.get("HTTP_AUTHORIZATION", "").removeprefix("Bearer ")
            if token not in self.tokens:
                return self._json(start_response, "401 Unauthorized", {"error": "invalid_token"})
            return self._json(start_response, "200 OK", self.tokens[token])
        start_response("404 Not Found", [])
        return [b""]

    @staticmethod
    def _json(start_response, status, body):
        start_response(status, [("Content-Type", "application/json")])
        return [json.dumps(body).encode()]


class Quiet(WSGIRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def provider(monkeypatch, gateway):
    provider = Provider()
    server = make_server("127.0.0.1", 0, provider, handler_class=Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    monkeypatch.setenv("PUBLIC_URL", gateway.url)
    monkeypatch.setenv("FACEBOOK_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("FACEBOOK_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("FACEBOOK_AUTHORIZE_URL", base + "/authorize")
    monkeypatch.setenv("FACEBOOK_TOKEN_URL", base + "/token")
    monkeypatch.setenv("FACEBOOK_USERINFO_URL", base + "/me")
    yield provider
    server.shutdown()
    server.server_close()


@pytest.fixture
def app(gateway, monkeypatch):
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))
    app = in_memory(lambda db: MembersApp(db, SECRET), read_models, throttle_metadata)
    service = worker_factory(MembersService, app=app, context=Context())
    for method in ("resolve_session", "log_in_with_provider", "get_own_profile", "list_themes"):
        gateway.handlers[method] = getattr(service, method)
    yield app
    app.db.dispose()


def log_in_with_facebook(gateway):
    """Click the login page's button, as a browser would: (the final page, the browser)."""
    browser = requests.Session()
    login = browser.get(gateway.url + "/connexion")
    assert 'href="/connexion/facebook"' in login.text
    return browser.get(gateway.url + "/connexion/facebook"), browser


def test_a_verified_member_logs_in_with_facebook_and_lands_on_their_profile(gateway, provider, app):
    camille = verified(app, "camille@example.org")
    page, browser = log_in_with_facebook(gateway)
    assert page.status_code == 200, page.text
    assert urlparse(page.url).path == "/profil" and "camille@example.org" in page.text
    assert provider.seen == ["/authorize", "/token", "/me"]
    assert app.resolve_session(browser.cookies["umpnet_session"])["member_id"] == camille
    (linked,) = events_of(app, ExternalIdentityLinked)
    assert (linked.provider, linked.account_id, linked.member_id) == ("facebook", "fb-1001", camille)
    # The next time, the linked account logs in, whatever address Facebook now gives.
    provider.account = {"id": "fb-1001", "email": "autre@example.org", "email_verified": False}
    again, _ = log_in_with_facebook(gateway)
    assert urlparse(again.url).path == "/profil" and len(events_of(app, ExternalIdentityLinked)) == 1


def test_an_address_facebook_does_not_vouch_for_is_refused_with_a_clear_message(gateway, provider, app):
    verified(app, "camille@example.org")
    provider.account = {"id": "fb-2", "email": "camille@example.org", "email_verified": False}
    page, browser = log_in_with_facebook(gateway)
    assert page.status_code == 403 and "Facebook ne nous confirme pas votre adresse e-mail" in page.text
    assert "umpnet_session" not in browser.cookies and events_of(app, ExternalIdentityLinked) == []
    provider.account = {"id": "fb-3", "email": "camille@example.org"}  # says nothing: not vouched by default
    assert log_in_with_facebook(gateway)[0].status_code == 403


def test_a_member_who_has_not_verified_their_address_is_not_linked(gateway, provider, app):
    register(app, "camille@example.org")
    page, browser = log_in_with_facebook(gateway)
    assert page.status_code == 403 and "Confirmez d'abord votre adresse e-mail" in unescape(page.text)
    assert events_of(app, ExternalIdentityLinked) == []


def test_nobody_signs_up_through_facebook(gateway, provider, app):
    provider.account = {"id": "fb-4", "email": "nouveau@example.org", "email_verified": True}
    page, _ = log_in_with_facebook(gateway)
    assert page.status_code == 404 and "adhérez d'abord" in unescape(page.text)
    assert events_of(app, MemberRegistered) == []


def test_a_return_without_our_state_is_refused(gateway, provider, app):
    verified(app, "camille@example.org")
    start = requests.get(gateway.url + "/connexion/facebook", allow_redirects=False)
    assert start.status_code == 303 and "umpnet_oauth_state" in start.cookies
    # An attacker's own code and state, replayed into a victim's browser (no state cookie, or another one).
    authorize = requests.get(start.headers["Location"], allow_redirects=False)
    back = authorize.headers["Location"]
    victim = requests.Session()
    refused = victim.get(back)
    assert refused.status_code == 400 and "a expiré ou ne vient pas de ce site" in refused.text
    victim.cookies.set("umpnet_oauth_state", "another-state")
    assert victim.get(back).status_code == 400
    assert "umpnet_session" not in victim.cookies and events_of(app, ExternalIdentityLinked) == []


def test_a_provider_that_fails_is_a_clear_page_not_a_500(gateway, provider, app, monkeypatch):
    monkeypatch.setenv("FACEBOOK_TOKEN_URL", "http://127.0.0.1:1/token")  # nobody listens there
    page, _ = log_in_with_facebook(gateway)
    assert page.status_code == 502 and "Facebook n'a pas pu confirmer" in unescape(page.text)


def test_without_configuration_there_is_no_button_and_no_route(gateway, app, monkeypatch):
    monkeypatch.delenv("FACEBOOK_CLIENT_ID", raising=False)
    assert "/connexion/facebook" not in requests.get(gateway.url + "/connexion").text
    assert requests.get(gateway.url + "/connexion/facebook", allow_redirects=False).status_code == 404


def test_the_session_cookie_is_the_password_logins_one(gateway, provider, app):
    from members.limits import SESSION_LIFETIME

    verified(app, "camille@example.org")
    page, _ = log_in_with_facebook(gateway)
    [session_cookie] = [cookie for r in page.history for cookie in r.raw.headers.getlist("Set-Cookie")
                        if cookie.startswith("umpnet_session=")]
    assert "HttpOnly" in session_cookie and "SameSite=Lax" in session_cookie
    assert f"Max-Age={int(SESSION_LIFETIME.total_seconds())}" in session_cookie
