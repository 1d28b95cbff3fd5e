"""Issue 6 items 7, 14 (gateway half), 15 and the 429 answer: the API as API.md and its OpenAPI document say."""
import requests

from members import limits
from umpnet_kernel.errors import RateLimited

SIGN_UP = {"email": "camille@example.org", "password": "Correct-horse-9", "postcode": "69003"}


def spec_of(gateway):
    return requests.get(gateway.url + "/api/openapi.json").json()


def test_sign_up_answers_202_pending_without_location(gateway):
    answer = requests.post(gateway.url + "/api/members", json=SIGN_UP)
    assert answer.status_code == 202 and answer.json() == {"status": "pending_verification"}
    assert "Location" not in answer.headers
    (call,) = gateway.called("register")
    assert call.args[0]["email"] == "camille@example.org" and len(call.args) == 1
    assert call.context["source"] == "127.0.0.1"
    assert set(spec_of(gateway)["paths"]["/api/members"]["post"]["responses"]) >= {"202"}


def test_password_reset_request_and_confirm(gateway):
    asked = requests.post(gateway.url + "/api/members/password-reset", json={"email": "camille@example.org"})
    assert asked.status_code == 202 and asked.json() == {"status": "sent_if_registered"}
    assert gateway.called("request_password_reset")[0].args == ("camille@example.org",)
    done = requests.post(gateway.url + "/api/members/password-reset/confirm",
                         json={"token": "good-token", "password": "Nouveau-mot-2"})
    assert done.status_code == 200 and done.json() == {"status": "password_changed"}
    assert gateway.called("reset_password")[0].args == ("good-token", "Nouveau-mot-2")
    short = requests.post(gateway.url + "/api/members/password-reset/confirm", json={"token": "good-token", "password": "court"})
    assert short.status_code == 400 and "password" in short.json()["error"]["fields"]
    paths = spec_of(gateway)["paths"]
    assert "202" in paths["/api/members/password-reset"]["post"]["responses"]
    assert "200" in paths["/api/members/password-reset/confirm"]["post"]["responses"]


def test_a_rate_limited_call_sends_retry_after(gateway):
    def throttled(email):
        raise RateLimited("Trop de demandes ; réessayez plus tard.", retry_after=120)

    gateway.handlers["resend_verification"] = throttled
    answer = requests.post(gateway.url + "/api/members/verify/resend", json={"email": "camille@example.org"})
    assert answer.status_code == 429 and answer.headers["Retry-After"] == "120"
    assert answer.json()["error"]["code"] == "rate_limited"


def test_limits_come_from_members_limits(gateway):
    schemas = spec_of(gateway)["components"]["schemas"]
    password = schemas["SignUpRequest"]["properties"]["password"]
    assert (password["minLength"], password["maxLength"]) == (limits.PASSWORD_MIN, limits.PASSWORD_MAX)
    login = schemas["LoginRequest"]["properties"]["password"]
    assert (login["minLength"], login["maxLength"]) == (1, limits.PASSWORD_MAX)
    assert schemas["ProfileUpdateRequest"]["properties"]["themes"]["maxItems"] == limits.THEMES_MAX
    assert schemas["ProfileUpdateRequest"]["properties"]["bio"]["maxLength"] == limits.BIO_MAX
    assert schemas["SignUpRequest"]["properties"]["email"]["maxLength"] == limits.EMAIL_MAX
    long = requests.post(gateway.url + "/api/sessions", json={"email": "a@example.org", "password": "x" * (limits.PASSWORD_MAX + 1)})
    assert long.status_code == 400 and not gateway.called("open_session")
    short = requests.post(gateway.url + "/api/sessions", json={"email": "a@example.org", "password": "x"})
    assert short.status_code == 401  # a wrong short password is just a failed login


def test_too_many_themes_speaks_of_items_not_characters(gateway):
    answer = requests.post(gateway.url + "/api/members", json={**SIGN_UP, "themes": [f"t{i}" for i in range(21)]})
    assert answer.status_code == 400
    assert answer.json()["error"]["fields"]["themes"] == [f"{limits.THEMES_MAX} éléments au plus."]


def test_a_profile_edit_needs_a_non_empty_object(gateway):
    _, auth = gateway.log_in()
    for body in (b"", b"{}", b"null"):
        answer = requests.patch(gateway.url + "/api/members/me", data=body, headers={**auth, "Content-Type": "application/json"})
        assert answer.status_code == 400, body
        assert answer.json()["error"]["code"] == "validation_error"
    assert not gateway.called("update_own_profile")


def test_response_schemas_match_what_is_returned(gateway):
    schemas = spec_of(gateway)["components"]["schemas"]
    public = schemas["PublicMember"]["properties"]
    assert "first_name" not in public and "last_name" not in public
    operation = spec_of(gateway)["paths"]["/api/members/{member_id}/roles"]["put"]
    ref = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    _, auth = gateway.log_in()
    answer = requests.put(gateway.url + "/api/members/5b0c2a3e-0000-4000-8000-000000000002/roles", json={"roles": ["member", "organizer"]}, headers=auth)
    assert answer.status_code == 200
    assert set(answer.json()) <= set(schemas[ref]["properties"])
    profile = requests.get(gateway.url + "/api/members/5b0c2a3e-0000-4000-8000-000000000002", headers=auth).json()
    assert set(profile) <= set(public)


def test_a_closed_session_stops_working_at_once(gateway):
    token, auth = gateway.log_in()
    assert requests.get(gateway.url + "/api/members/me", headers=auth).status_code == 200
    gateway.sessions.pop(token)  # closed elsewhere: another gateway process, the ops CLI, a password reset
    assert requests.get(gateway.url + "/api/members/me", headers=auth).status_code == 401


def test_a_revoked_role_applies_to_the_next_request(gateway):
    token, auth = gateway.log_in()
    gateway.sessions[token]["roles"] = ["member", "national_admin"]
    requests.put(gateway.url + "/api/members/5b0c2a3e-0000-4000-8000-000000000002/roles", json={"roles": ["member"]}, headers=auth)
    gateway.sessions[token]["roles"] = ["member"]
    requests.put(gateway.url + "/api/members/5b0c2a3e-0000-4000-8000-000000000002/roles", json={"roles": ["member"]}, headers=auth)
    first, second = gateway.called("set_roles")
    assert "national_admin" in first.args[0]["roles"] and second.args[0]["roles"] == ["member"]


def test_the_session_is_resolved_once_per_request(gateway, browser):
    browser.post(gateway.url + "/connexion", data={"csrf_token": browser.csrf("/connexion"),
                                                   "email": "camille@example.org", "password": "Correct-horse-9"})
    before = len(gateway.called("resolve_session"))
    browser.post(gateway.url + "/profil", data={"csrf_token": browser.csrf("/profil"), "postcode": "69003"})
    # one GET /profil (for the token), one POST /profil
    assert len(gateway.called("resolve_session")) - before == 2
