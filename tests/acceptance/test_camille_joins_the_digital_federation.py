"""Camille signs up on the API, gets the email, verifies, logs in, edits her profile, logs out."""
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from umpnet_gateway import schemas
from umpnet_kernel.manifest import service_names

from ..conftest import link_in, read_mails, wait_until

pytestmark = pytest.mark.integration


def assert_conforms(payload: dict, schema) -> None:
    """What the API returns is what its OpenAPI document says (no field it does not declare)."""
    assert set(payload) <= set(schema._declared_fields), set(payload) - set(schema._declared_fields)


def test_camille_signs_up_verifies_her_email_logs_in_and_edits_her_profile(platform, monkeypatch):
    monkeypatch.setenv("PUBLIC_URL", platform.url)
    api = platform.url + "/api"
    answer = requests.post(f"{api}/members", json={
        "email": "camille@example.org", "password": "Correct-horse-9", "postcode": "69003", "themes": ["europe"],
    })
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"status": "pending_verification"} and "Location" not in answer.headers

    # Not verified yet: no login.
    assert requests.post(f"{api}/sessions", json={"email": "camille@example.org", "password": "Correct-horse-9"}).status_code == 403

    (message,) = wait_until(lambda: read_mails(platform.mail_dir))
    assert message["To"] == "camille@example.org"
    link = link_in(message, "http://testserver/verify?")
    token = parse_qs(urlparse(link).query)["token"][0]
    verified = requests.post(f"{api}/members/verify", json={"token": token})
    assert verified.status_code == 200
    assert_conforms(verified.json(), schemas.VerifyResult)

    session = requests.post(f"{api}/sessions", json={"email": "camille@example.org", "password": "Correct-horse-9"})
    assert session.status_code == 200
    assert_conforms(session.json(), schemas.SessionCreated)
    auth = {"Authorization": f"Bearer {session.json()['token']}"}

    me = requests.get(f"{api}/members/me", headers=auth).json()
    member_id = session.json()["member_id"]
    assert (me["id"], me["email_verified"], me["digital_federation"]) == (member_id, True, True)
    assert me["federation"] == {"code": "69", "name": "Rhône"}
    assert_conforms(me, schemas.OwnProfile)

    edited = requests.patch(f"{api}/members/me", headers=auth, json={"first_name": "Camille", "last_name": "Durand", "bio": "Militante <b>lyonnaise</b>"})
    assert edited.status_code == 200 and edited.json()["bio"] == "Militante <b>lyonnaise</b>"  # stored as typed, escaped when shown
    public = requests.get(f"{api}/members/{member_id}", headers=auth).json()
    assert public["display_name"] == "Camille D." and "last_name" not in public
    assert_conforms(public, schemas.PublicMember)

    assert requests.delete(f"{api}/sessions/current", headers=auth).status_code == 204
    assert requests.get(f"{api}/members/me", headers=auth).status_code == 401


def test_bad_requests_get_clear_4xx_errors_and_change_nothing(platform):
    api = platform.url + "/api"
    bad = requests.post(f"{api}/members", json={"email": "nope", "postcode": "123"})
    assert bad.status_code == 400
    assert set(bad.json()["error"]["fields"]) == {"email", "password", "postcode"}
    assert requests.post(f"{api}/members", data="{not json").status_code == 400
    assert requests.post(f"{api}/members", json=["a list"]).status_code == 400
    unknown_postcode = requests.post(f"{api}/members", json={"email": "a@example.org", "password": "Correct-horse-9", "postcode": "00000"})
    assert unknown_postcode.status_code == 400 and "postcode" in unknown_postcode.json()["error"]["fields"]
    assert requests.get(f"{api}/members/me").status_code == 401
    assert requests.get(f"{api}/members/me", headers={"Authorization": "Bearer forged"}).status_code == 401
    assert requests.post(f"{api}/members/verify", json={"token": "forged"}).status_code == 400
    first = requests.post(f"{api}/members", json={"email": "dup@example.org", "password": "Correct-horse-9", "postcode": "75011"})
    assert first.status_code == 202
    # A registered address gets the very same answer: sign-up does not reveal membership.
    again = requests.post(f"{api}/members", json={"email": "DUP@example.org", "password": "Correct-horse-9", "postcode": "75011"})
    assert (again.status_code, again.json(), again.headers.get("Location")) == (first.status_code, first.json(), None)
    assert requests.post(f"{api}/members", data=b'{"email": "\\ud800@example.org"}').status_code == 400
    assert requests.get(f"{api}/nope").json()["error"]["code"] == "not_found"
    federations = requests.get(f"{api}/federations").json()["items"]
    assert sum(f["member_count"] for f in federations if f["kind"] == "local") == 1


def test_reference_data_health_and_openapi(platform):
    every_service = {name: "ok" for name in service_names()}  # members, mailer, events, debates, petitions
    assert requests.get(platform.url + "/health").json() == {"status": "ok", "services": every_service, "broker": "ok"}
    themes = requests.get(platform.url + "/api/themes").json()
    assert {"slug": "europe", "name": "Europe et international"} in themes["items"] and themes["next_cursor"] is None
    federations = requests.get(platform.url + "/api/federations").json()["items"]
    assert len(federations) == 102 and federations[-1]["kind"] == "digital"
    spec = requests.get(platform.url + "/api/openapi.json").json()
    assert spec["openapi"].startswith("3.")
    assert "requestBody" in spec["paths"]["/api/members"]["post"]
    assert "email" in spec["components"]["schemas"]["SignUpRequest"]["properties"]


def test_health_answers_503_and_names_the_service_that_is_down(run_service, platform_config, web_config):
    from nameko.containers import ServiceContainer

    from members.service import MembersService
    from umpnet_gateway.service import GatewayService

    run_service(MembersService)  # the mailer is not running
    gateway = ServiceContainer(GatewayService, dict(platform_config, **web_config))
    gateway.start()
    try:
        answer = requests.get(f"http://{web_config['WEB_SERVER_ADDRESS']}/health")
        assert answer.status_code == 503
        states = {**{name: "unavailable" for name in service_names()}, "members": "ok"}
        assert answer.json() == {"status": "degraded", "services": states, "broker": "ok"}
    finally:
        gateway.stop()
