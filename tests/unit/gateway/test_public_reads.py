"""Public reads (umpnet_gateway.caching): kept in memory, revalidated by ETag, never with a session.

The events that invalidate them travel through the real RabbitMQ: see the end of this module.
"""
import socket
import time
import uuid
from datetime import datetime, timezone

import eventlet
import pytest
import requests

from umpnet_gateway import caching
from umpnet_gateway.api.lists import paged
from umpnet_gateway.caching import PublicReads
from umpnet_gateway.errors import ServiceUnavailable
from umpnet_gateway.http import api, json_response
from umpnet_kernel.nameko import BatchPublisher
from umpnet_kernel.paging import PageRequest, encode_cursor
from umpnet_kernel.topology import events_exchange

from ...conftest import wait_until
from .conftest import StubProvider, default_handlers
from umpnet_gateway.service import GatewayService

PUBLIC = ("/api/federations", "/api/themes", "/", "/api/federations?limit=1")
VARYING = {"date"}  # headers that differ from one answer to the next whatever the path


def reads_of(gateway) -> PublicReads:
    return gateway.container.shared_extensions[PublicReads]


def comparable(answer):
    return answer.status_code, answer.content, {k.lower(): v for k, v in answer.headers.items() if k.lower() not in VARYING}


def test_a_second_anonymous_read_is_answered_from_memory(gateway):
    first = requests.get(gateway.url + "/api/federations")
    second = requests.get(gateway.url + "/api/federations")
    assert first.status_code == second.status_code == 200
    assert len(gateway.called("list_federations")) == 1
    assert second.json()["items"][0] == {"code": "69", "name": "Rhône", "kind": "local", "member_count": 1}
    assert second.headers["Cache-Control"] == "public, max-age=10" and second.headers["ETag"].startswith('"')
    requests.get(gateway.url + "/api/themes"), requests.get(gateway.url + "/api/themes")
    assert len(gateway.called("list_themes")) == 1
    requests.get(gateway.url + "/"), requests.get(gateway.url + "/")
    assert len(gateway.called("list_federations")) == 2  # the home page is its own answer, kept once


@pytest.mark.parametrize("path", PUBLIC)
def test_the_kept_answer_is_exactly_the_plain_one(gateway, path):
    """The fast path (memory) equals the plain path (a nameko worker and its RPC), byte for byte."""
    plain = requests.get(gateway.url + path)  # nothing kept yet: the plain path
    kept = requests.get(gateway.url + path)
    calls = len(gateway.calls)
    assert comparable(kept) == comparable(plain)
    reads_of(gateway).enabled = False  # GATEWAY_CACHE=0: every read takes the plain path
    reads_of(gateway).invalidate("federations", "themes")
    uncached = requests.get(gateway.url + path)
    assert len(gateway.calls) == calls + 1
    assert comparable(uncached) == comparable(plain)


def test_a_matching_etag_is_a_304_without_body(gateway):
    first = requests.get(gateway.url + "/api/themes")
    etag = first.headers["ETag"]
    for sent in (etag, f"W/{etag}", f'"other", {etag}', "*"):
        again = requests.get(gateway.url + "/api/themes", headers={"If-None-Match": sent})
        assert again.status_code == 304 and again.content == b"", sent
        assert again.headers["ETag"] == etag and again.headers["Cache-Control"] == "public, max-age=300"
    assert requests.get(gateway.url + "/api/themes", headers={"If-None-Match": '"other"'}).status_code == 200
    home = requests.get(gateway.url + "/")
    assert home.headers["Cache-Control"] == "public, no-cache"  # a browser asks each time: a login shows at once
    assert requests.get(gateway.url + "/", headers={"If-None-Match": home.headers["ETag"]}).status_code == 304


@pytest.mark.parametrize("path", ["/api/federations", "/"])
def test_a_304_also_comes_from_the_plain_path_and_is_the_same(gateway, path):
    etag = requests.get(gateway.url + path).headers["ETag"]
    reads_of(gateway).invalidate("federations")
    plain = requests.get(gateway.url + path, headers={"If-None-Match": etag})
    assert plain.status_code == 304 and len(gateway.called("list_federations")) == 2
    kept = requests.get(gateway.url + path, headers={"If-None-Match": etag})
    assert len(gateway.called("list_federations")) == 2 and comparable(kept) == comparable(plain)


def test_a_request_with_a_session_is_never_served_nor_kept(gateway):
    token, auth = gateway.log_in()
    for _ in range(2):
        answer = requests.get(gateway.url + "/api/federations", headers=auth)
        assert answer.status_code == 200 and answer.headers["Cache-Control"] == "no-store" and "ETag" not in answer.headers
    assert len(gateway.called("list_federations")) == 2
    # Logged in, the home page is theirs (a logout form with their token): never kept, never stored.
    for _ in range(2):
        home = requests.get(gateway.url + "/", cookies={"umpnet_session": token, "umpnet_csrf": "v"})
        assert 'data-testid="logout-form"' in home.text and home.headers["Cache-Control"] == "no-store"
    assert len(gateway.called("resolve_session")) >= 2
    # …and it did not become the anonymous page.
    anonymous = requests.get(gateway.url + "/")
    assert 'data-testid="logout-form"' not in anonymous.text and "Set-Cookie" not in anonymous.headers
    assert 'data-testid="home-cta-signup"' in anonymous.text


def test_personal_answers_and_failures_are_never_kept(gateway):
    _, auth = gateway.log_in()
    requests.get(gateway.url + "/api/members/me", headers=auth), requests.get(gateway.url + "/api/members/me", headers=auth)
    assert len(gateway.called("get_own_profile")) == 2
    requests.get(gateway.url + "/profil"), requests.get(gateway.url + "/connexion")
    assert "ETag" not in requests.get(gateway.url + "/connexion").headers

    def down():
        raise ServiceUnavailable("members ne répond pas")

    gateway.handlers["list_themes"] = down
    assert requests.get(gateway.url + "/api/themes").status_code == 503
    gateway.handlers["list_themes"] = default_handlers({})["list_themes"]
    answer = requests.get(gateway.url + "/api/themes")
    assert answer.status_code == 200 and len(gateway.called("list_themes")) == 2


def test_an_answer_read_while_its_data_changed_is_not_kept(gateway):
    """A count read before an event must not outlive the event's invalidation."""
    reads = reads_of(gateway)
    plain = gateway.handlers["list_federations"]

    def changed_meanwhile():
        reads.invalidate("federations")  # the event arrives while the RPC is on its way
        return plain()

    gateway.handlers["list_federations"] = changed_meanwhile
    requests.get(gateway.url + "/api/federations")
    gateway.handlers["list_federations"] = plain
    requests.get(gateway.url + "/api/federations"), requests.get(gateway.url + "/api/federations")
    assert len(gateway.called("list_federations")) == 2


def test_reads_that_arrive_during_a_plain_read_wait_for_it_instead_of_calling_again(gateway):
    plain = gateway.handlers["list_federations"]

    def slow():
        eventlet.sleep(0.3)
        return plain()

    gateway.handlers["list_federations"] = slow
    pool = eventlet.GreenPool()
    answers = list(pool.imap(lambda _: requests.get(gateway.url + "/api/federations"), range(10)))
    assert len(gateway.called("list_federations")) == 1
    assert {a.status_code for a in answers} == {200} and len({a.content for a in answers}) == 1


def test_when_the_plain_read_fails_the_waiting_reads_try_at_once(gateway):
    calls = []

    def down():
        calls.append(1)
        eventlet.sleep(0.2)
        raise ServiceUnavailable("members ne répond pas")

    gateway.handlers["list_federations"] = down
    started = time.monotonic()
    answers = list(eventlet.GreenPool().imap(lambda _: requests.get(gateway.url + "/api/federations"), range(5)))
    assert {a.status_code for a in answers} == {503}
    assert time.monotonic() - started < 0.2 * 5 - 0.1  # side by side after the first, not one after another
    assert len(calls) == 5


def test_kept_answers_expire_after_their_ttl(gateway, monkeypatch):
    requests.get(gateway.url + "/api/federations")
    later = time.monotonic() + 31
    monkeypatch.setattr(caching.time, "monotonic", lambda: later)
    requests.get(gateway.url + "/api/federations")
    assert len(gateway.called("list_federations")) == 2


def test_made_up_query_strings_cannot_fill_the_memory(gateway, monkeypatch):
    monkeypatch.setattr(caching, "MAX_ANSWERS", 3)
    for n in range(6):
        requests.get(gateway.url + f"/api/themes?n={n}")
    assert len(reads_of(gateway)._answers) == 3


def test_reference_lists_page_with_limit_and_cursor(gateway):
    first = requests.get(gateway.url + "/api/federations?limit=1").json()
    assert [f["code"] for f in first["items"]] == ["69"] and first["next_cursor"] == encode_cursor(["69"])
    rest = requests.get(gateway.url + "/api/federations", params={"limit": 1, "cursor": first["next_cursor"]}).json()
    assert [f["code"] for f in rest["items"]] == ["NUM"] and rest["next_cursor"] is None
    whole = requests.get(gateway.url + "/api/federations").json()
    assert len(whole["items"]) == 2 and whole["next_cursor"] is None  # a reference list fits one page by default


def test_a_bad_limit_or_cursor_is_a_clear_400_that_costs_no_rpc(gateway):
    bad_cursor = requests.get(gateway.url + "/api/federations", params={"cursor": "not-a-cursor"})
    assert bad_cursor.status_code == 400
    error = bad_cursor.json()["error"]
    assert error["code"] == "bad_cursor" and "curseur" in error["message"] and set(error["fields"]) == {"cursor"}
    unknown = requests.get(gateway.url + "/api/themes", params={"cursor": encode_cursor(["nope"])})
    assert unknown.status_code == 400 and unknown.json()["error"]["code"] == "bad_cursor"
    for limit in ("0", "501", "abc"):
        answer = requests.get(gateway.url + "/api/federations", params={"limit": limit})
        assert answer.status_code == 400 and set(answer.json()["error"]["fields"]) == {"limit"}, limit
    assert not gateway.called("list_federations")
    assert bad_cursor.headers["Cache-Control"] == "no-store"


def test_list_routes_document_limit_and_cursor_and_are_tagged_by_their_module(gateway):
    spec = requests.get(gateway.url + "/api/openapi.json").json()
    federations = spec["paths"]["/api/federations"]["get"]
    assert {p["name"] for p in federations["parameters"]} == {"limit", "cursor"}
    assert federations["tags"] == ["members"] and spec["paths"]["/api/sessions"]["post"]["tags"] == ["members"]
    assert "parameters" not in spec["paths"]["/api/sessions"]["post"]
    assert set(spec["components"]["schemas"]["FederationList"]["properties"]) == {"items", "next_cursor"}


# -- invalidation by the members' events, through the real RabbitMQ ------------------
class BroadcastingGateway(GatewayService):
    """The real gateway, event handlers included; only its RPC calls are answered in-process."""

    services = StubProvider()


def free_address() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"127.0.0.1:{s.getsockname()[1]}"


def publish(amqp_uri: str, event_type: str) -> None:
    """What the members service's outbox relay publishes (its envelope, on `members.events`)."""
    body = {"event_id": str(uuid.uuid4()), "event_type": event_type, "schema_version": 1,
            "stream_id": f"member-{uuid.uuid4()}", "stream_version": 1, "position": 1,
            "occurred_at": datetime.now(timezone.utc).isoformat(), "actor_id": None,
            "correlation_id": None, "causation_id": None, "data": {"member_id": "m2"}}
    publisher = BatchPublisher(amqp_uri, events_exchange("members"))
    try:
        publisher.publish_many([(event_type, body)])
    finally:
        publisher.close()


@pytest.fixture
def two_gateways(container_factory, rabbit_config, monkeypatch, tmp_path):
    """Two gateway processes on one broker, each with its own counts of the members service."""
    monkeypatch.setenv("SECRET_KEY", "unit-test-secret")
    monkeypatch.setenv("DATA_DIR", str(tmp_path))
    gateways = []
    for _ in range(2):
        handlers, calls, counts = default_handlers({}), [], {"69": 1}
        handlers["list_federations"] = lambda counts=counts: [
            {"code": "69", "name": "Rhône", "kind": "local", "member_count": counts["69"]},
            {"code": "NUM", "name": "Fédération numérique", "kind": "digital", "member_count": counts["69"]}]
        address = free_address()
        container = container_factory(BroadcastingGateway, dict(rabbit_config, WEB_SERVER_ADDRESS=address,
                                                                 STUB_HANDLERS=handlers, STUB_CALLS=calls))
        container.start()
        gateways.append(type("G", (), {"url": f"http://{address}", "calls": calls, "counts": counts})())
    return rabbit_config["AMQP_URI"], gateways


def count_in_69(gateway) -> int:
    return requests.get(gateway.url + "/api/federations").json()["items"][0]["member_count"]


@pytest.mark.parametrize("event_type", ["members.MemberRegistered", "members.ProfileUpdated", "members.EmailVerified"])
def test_a_members_event_invalidates_the_kept_counts_in_every_gateway(two_gateways, event_type):
    amqp_uri, gateways = two_gateways
    for gateway in gateways:
        assert count_in_69(gateway) == 1 and count_in_69(gateway) == 1
        assert len(gateway.calls) == 1  # kept
        gateway.counts["69"] = 2  # a member signed up: the members service counts 2 now
    assert all(count_in_69(g) == 1 for g in gateways)  # still the kept answer
    publish(amqp_uri, event_type)
    for gateway in gateways:  # a broadcast: each gateway process has its own queue
        wait_until(lambda gateway=gateway: count_in_69(gateway) == 2, timeout=10)


def test_each_gateway_has_its_own_transient_queue_per_event(two_gateways, rabbit_manager):
    """Exclusive, deleted with its process, transient: the events carry personal fields."""
    amqp_uri, _ = two_gateways
    vhost = amqp_uri.rsplit("/", 1)[1]
    queues = [q for q in rabbit_manager.get_queues(vhost) if q["name"].startswith("evt-members-members.MemberRegistered--gateway")]
    assert len(queues) == 2
    for queue in queues:
        assert (queue["durable"], queue["auto_delete"], queue["exclusive"]) == (False, True, True), queue["name"]


# -- a list a service pages itself: the gateway side is ready ---------------------
class GatewayWithAServiceList(GatewayService):
    services = StubProvider()

    def members_changed(self, event):  # no broker in this test
        raise AssertionError

    @api("GET", "/api/things")
    def things(self, request):
        return json_response(paged(self.services, request, "things", "list_things", "69"))


def test_a_list_paged_by_its_service_gets_the_checked_page(container_factory, web_config):
    from umpnet_kernel.paging import paginate_sequence

    things = [{"id": f"t{i}"} for i in range(7)]
    calls = []

    def list_things(federation, limit, cursor):
        calls.append((federation, limit, cursor))
        return paginate_sequence(things, lambda t: (t["id"],), PageRequest(limit, cursor)).as_dict()

    container = container_factory(GatewayWithAServiceList, dict(web_config, STUB_HANDLERS={"list_things": list_things},
                                                                STUB_CALLS=[]))
    container.start()
    url = f"http://{web_config['WEB_SERVER_ADDRESS']}/api/things"
    first = requests.get(url, params={"limit": 3}).json()
    assert [t["id"] for t in first["items"]] == ["t0", "t1", "t2"] and calls == [("69", 3, None)]
    rest = requests.get(url, params={"limit": 5, "cursor": first["next_cursor"]}).json()
    assert [t["id"] for t in rest["items"]] == ["t3", "t4", "t5", "t6"] and rest["next_cursor"] is None
    assert requests.get(url).status_code == 200 and calls[-1] == ("69", 50, None)  # API.md's default
    assert requests.get(url, params={"cursor": "forged"}).status_code == 400
    assert requests.get(url, params={"limit": "600"}).status_code == 400
    assert len(calls) == 3  # a refused page costs no RPC


def test_pages_with_a_form_take_the_themes_from_memory_and_forget_them_on_invalidation(gateway, browser):
    for _ in range(2):
        page = browser.get(gateway.url + "/inscription")
        assert page.status_code == 200 and 'data-testid="signup-theme-europe"' in page.text
        assert page.headers["Cache-Control"] == "no-store"  # the page itself (a CSRF token) is never kept
    assert len(gateway.called("list_themes")) == 1
    reads_of(gateway).invalidate("themes")
    gateway.handlers["list_themes"] = lambda: [{"slug": "sante", "name": "Santé"}]
    assert 'data-testid="signup-theme-sante"' in browser.get(gateway.url + "/inscription").text
    assert len(gateway.called("list_themes")) == 2
    reads_of(gateway).enabled = False  # GATEWAY_CACHE=0: nothing is kept
    reads_of(gateway).invalidate("themes")
    browser.get(gateway.url + "/inscription"), browser.get(gateway.url + "/inscription")
    assert len(gateway.called("list_themes")) == 4
