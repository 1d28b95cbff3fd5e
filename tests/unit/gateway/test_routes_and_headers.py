"""Issue 6 items 10, 11 and 15 (OPTIONS): unknown routes, methods and the headers every answer carries."""
import json

import requests

SECURITY = ("content-security-policy", "x-content-type-options", "referrer-policy", "x-frame-options")


def test_an_unknown_api_path_is_a_json_404(gateway):
    answer = requests.get(gateway.url + "/api/nope")
    assert answer.status_code == 404 and answer.headers["Content-Type"].startswith("application/json")
    assert answer.json()["error"]["code"] == "not_found"
    assert requests.get(gateway.url + "/api").json()["error"]["code"] == "not_found"


def test_a_wrong_method_on_the_api_is_a_json_405_with_allow(gateway):
    answer = requests.delete(gateway.url + "/api/members")
    assert answer.status_code == 405 and answer.json()["error"]["code"] == "method_not_allowed"
    assert set(answer.headers["Allow"].replace(" ", "").split(",")) == {"POST", "OPTIONS"}
    verify = requests.get(gateway.url + "/api/members/verify")
    assert verify.status_code == 405 and "GET" not in verify.headers["Allow"]


def test_options_answers_the_real_methods(gateway):
    answer = requests.options(gateway.url + "/api/members/verify")
    assert answer.status_code == 204
    assert set(answer.headers["Allow"].replace(" ", "").split(",")) == {"POST", "OPTIONS"}
    me = requests.options(gateway.url + "/api/members/me")
    assert set(me.headers["Allow"].replace(" ", "").split(",")) == {"GET", "HEAD", "PATCH", "DELETE", "OPTIONS"}
    assert not gateway.calls


def test_an_unknown_site_page_is_a_french_page_in_the_layout(gateway):
    answer = requests.get(gateway.url + "/nulle-part")
    assert answer.status_code == 404 and answer.headers["Content-Type"].startswith("text/html")
    assert 'data-testid="error-page"' in answer.text and "Page introuvable" in answer.text
    assert 'lang="fr"' in answer.text and "Not Found" not in answer.text
    wrong = requests.delete(gateway.url + "/connexion")
    assert wrong.status_code == 405 and "Allow" in wrong.headers and 'data-testid="error-page"' in wrong.text
    assert requests.get(gateway.url + "/static/nope.css").status_code == 404


def test_error_pages_carry_the_security_headers_of_every_page(gateway):
    for answer in (requests.get(gateway.url + "/nulle-part"), requests.delete(gateway.url + "/connexion"),
                   requests.get(gateway.url + "/connexion")):
        for header in SECURITY:
            assert header in {h.lower() for h in answer.headers}, (answer.url, header)
        assert "frame-ancestors 'none'" in answer.headers["Content-Security-Policy"]


def test_json_answers_are_nosniff_and_not_stored(gateway):
    token, auth = gateway.log_in()
    # /api/themes without a session is public data now (test_public_reads); with one it is never stored.
    for answer in (requests.get(gateway.url + "/api/themes", headers=auth), requests.get(gateway.url + "/api/nope"),
                   requests.get(gateway.url + "/api/members/me", headers=auth),
                   requests.post(gateway.url + "/api/sessions", json={"email": "camille@example.org", "password": "Correct-horse-9"})):
        assert answer.headers["X-Content-Type-Options"] == "nosniff", answer.url
        assert answer.headers["Cache-Control"] == "no-store", answer.url
    assert json.loads(requests.get(gateway.url + "/api/members/me", headers=auth).text)["email"]


def test_pages_with_personal_data_are_not_stored(gateway, browser):
    browser.post(gateway.url + "/connexion", data={"csrf_token": browser.csrf("/connexion"),
                                                   "email": "camille@example.org", "password": "Correct-horse-9"})
    profile = browser.get(gateway.url + "/profil")
    assert profile.status_code == 200 and "camille@example.org" in profile.text
    assert profile.headers["Cache-Control"] == "no-store"
    assert "public" in requests.get(gateway.url + "/static/site.css").headers["Cache-Control"]


def test_werkzeug_redirects_stay_redirects(gateway):
    status, headers, _ = gateway.request("GET", "//api//themes", content_type=None)
    assert status == 308 and headers["location"].endswith("/api/themes")
