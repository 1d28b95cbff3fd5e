"""The sessions each gateway process keeps (sessions_cache.py) end when the contract says, in every process.

The whole platform runs (members, mailer, ...) with two gateway processes on
one broker, A and B. Their sessions are kept for 60 s here: what ends a
session on B within a few seconds is the members event, not the TTL. On A,
the process that did it, it ends at once (the very next request).
"""
import socket
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from nameko.containers import ServiceContainer
from nameko.standalone.rpc import ClusterRpcProxy

from umpnet_gateway.sessions_cache import SessionCache

from ..conftest import link_in, read_mails, wait_until

pytestmark = pytest.mark.integration

PASSWORD, NEW_PASSWORD = "Correct-horse-9", "Nouveau-cheval-7"
KEPT_FOR = 60  # seconds: far longer than any wait below
EVENT_WAIT = 8  # seconds: the relay publishes right after the commit; this is the slow machine's margin


def free_address() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


@pytest.fixture
def gateways(run_service, platform_config, web_config):
    """(A, B): two gateway processes of the whole platform; each has `url` and `kept` (its SessionCache)."""
    from umpnet_gateway.service import GatewayService
    from umpnet_kernel.manifest import discover

    for manifest in discover():
        run_service(manifest.load_class())
    started = []
    for address in (web_config["WEB_SERVER_ADDRESS"], free_address()):
        container = ServiceContainer(GatewayService, dict(platform_config, WEB_SERVER_ADDRESS=address,
                                                          GATEWAY_SESSION_TTL=KEPT_FOR))
        container.start()
        started.append(container)
    yield [type("Gateway", (), {"url": f"http://{c.config['WEB_SERVER_ADDRESS']}",
                                "kept": SessionCache.of(c)})() for c in started]
    for container in started:
        container.stop()


def mails_to(platform_config, address):
    import os
    return [m for m in read_mails(os.path.join(platform_config["DATA_DIR"], "mail")) if m["To"] == address]


def verified_member(gateway, platform_config, email) -> str:
    api = gateway.url + "/api"
    assert requests.post(f"{api}/members", json={"email": email, "password": PASSWORD,
                                                 "postcode": "69003"}).status_code == 202
    (message,) = wait_until(lambda: mails_to(platform_config, email))
    token = parse_qs(urlparse(link_in(message, "http://testserver/verify?")).query)["token"][0]
    answer = requests.post(f"{api}/members/verify", json={"token": token})
    assert answer.status_code == 200
    return answer.json()["member_id"]


def log_in(gateway, email, password=PASSWORD) -> str:
    answer = requests.post(gateway.url + "/api/sessions", json={"email": email, "password": password})
    assert answer.status_code == 200
    return answer.json()["token"]


def me(gateway, token) -> int:
    return requests.get(gateway.url + "/api/members/me", headers={"Authorization": f"Bearer {token}"}).status_code


def kept_by_both(a, b, token):
    assert me(a, token) == me(b, token) == 200
    assert me(a, token) == me(b, token) == 200  # the second ones from memory
    assert len(a.kept) >= 1 and len(b.kept) >= 1


def test_a_logout_ends_the_token_at_once_here_and_on_the_other_gateway_by_the_event(gateways, platform_config):
    a, b = gateways
    verified_member(a, platform_config, "camille@example.org")
    token, other = log_in(a, "camille@example.org"), log_in(a, "camille@example.org")
    kept_by_both(a, b, token)
    kept_by_both(a, b, other)

    assert requests.delete(a.url + "/api/sessions/current", headers={"Authorization": f"Bearer {token}"}).status_code == 204
    assert me(a, token) == 401  # at once, in the process that closed it
    wait_until(lambda: me(b, token) == 401, timeout=EVENT_WAIT)  # members.SessionEnded, well before the TTL
    assert me(a, other) == me(b, other) == 200  # her other session still works


def test_a_password_reset_ends_every_other_session_at_once(gateways, platform_config):
    a, b = gateways
    verified_member(a, platform_config, "lucas@example.org")
    sessions = [log_in(a, "lucas@example.org") for _ in range(2)]
    for token in sessions:
        kept_by_both(a, b, token)

    assert requests.post(a.url + "/api/members/password-reset", json={"email": "lucas@example.org"}).status_code == 202
    message = wait_until(lambda: [m for m in mails_to(platform_config, "lucas@example.org")
                                  if "http://testserver/password-reset?" in m.get_body(("plain",)).get_content()])[0]
    reset = parse_qs(urlparse(link_in(message, "http://testserver/password-reset?")).query)["token"][0]
    assert requests.post(a.url + "/api/members/password-reset/confirm",
                         json={"token": reset, "password": NEW_PASSWORD}).status_code == 200

    assert [me(a, token) for token in sessions] == [401, 401]
    wait_until(lambda: [me(b, token) for token in sessions] == [401, 401], timeout=EVENT_WAIT)
    assert me(b, log_in(b, "lucas@example.org", NEW_PASSWORD)) == 200


def test_an_erasure_ends_the_sessions_everywhere(gateways, platform_config):
    a, b = gateways
    verified_member(a, platform_config, "dominique@example.org")
    token, other = log_in(a, "dominique@example.org"), log_in(a, "dominique@example.org")
    kept_by_both(a, b, token)
    kept_by_both(a, b, other)

    erased = requests.delete(a.url + "/api/members/me", headers={"Authorization": f"Bearer {token}"}, json={})
    assert erased.status_code == 204
    assert me(a, token) == me(a, other) == 401
    wait_until(lambda: me(b, token) == me(b, other) == 401, timeout=EVENT_WAIT)


def talents(gateway, token) -> int:
    return requests.get(gateway.url + "/api/talents", headers={"Authorization": f"Bearer {token}"}).status_code


def test_a_role_taken_away_stops_working_on_every_gateway_well_within_the_ttl(gateways, platform_config):
    a, b = gateways
    verified_member(a, platform_config, "admin@example.org")
    member_id = verified_member(a, platform_config, "sacha@example.org")
    with ClusterRpcProxy(platform_config) as rpc:  # an operator, as `umpnet grant-role` does
        rpc.members.grant_role("admin@example.org", "national_admin")
        rpc.members.grant_role("sacha@example.org", "federation_admin")
    admin, sacha = log_in(a, "admin@example.org"), log_in(a, "sacha@example.org")
    assert talents(a, sacha) == talents(b, sacha) == 200  # an admin sees the talents; kept with the role

    taken = requests.put(f"{a.url}/api/members/{member_id}/roles", headers={"Authorization": f"Bearer {admin}"},
                         json={"roles": ["member"]})
    assert taken.status_code == 200 and taken.json()["roles"] == ["member"]
    assert talents(a, sacha) == 403  # at once where it was taken away
    wait_until(lambda: talents(b, sacha) == 403, timeout=EVENT_WAIT)  # members.RolesChanged

    # A role given by an operator (no gateway involved) reaches both by the event too.
    with ClusterRpcProxy(platform_config) as rpc:
        rpc.members.grant_role("sacha@example.org", "federation_admin")
    wait_until(lambda: talents(a, sacha) == talents(b, sacha) == 200, timeout=EVENT_WAIT)


def test_the_kept_answer_is_what_members_answers(gateways, platform_config):
    a, _ = gateways
    verified_member(a, platform_config, "alix@example.org")
    token = log_in(a, "alix@example.org")
    with ClusterRpcProxy(platform_config) as rpc:
        plain = rpc.members.resolve_session(token)
        calls = []

        def resolve(token):
            calls.append(token)
            return rpc.members.resolve_session(token)

        first, kept = a.kept.resolve(token, resolve), a.kept.resolve(token, resolve)
    assert plain == first == kept and set(plain) == {"member_id", "roles", "federation_code"}
    assert len(calls) == 1  # the second from memory
    kept["roles"].append("national_admin")  # a request that changes its copy changes nothing kept
    assert a.kept.resolve(token, resolve) == plain


def test_the_gathered_answers_are_what_members_answers_one_by_one(gateways, platform_config):
    a, _ = gateways
    verified_member(a, platform_config, "noa@example.org")
    open_, closed = log_in(a, "noa@example.org"), log_in(a, "noa@example.org")
    assert requests.delete(a.url + "/api/sessions/current", headers={"Authorization": f"Bearer {closed}"}).status_code == 204
    tokens = [open_, "made-up", closed, open_]
    with ClusterRpcProxy(platform_config) as rpc:
        one_by_one = [rpc.members.resolve_session(token) for token in tokens]
        gathered = rpc.members.resolve_sessions(tokens)
    assert [answer["ok"] for answer in gathered] == one_by_one
    assert one_by_one[0] is not None and one_by_one[1:3] == [None, None]

