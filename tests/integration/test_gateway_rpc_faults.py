"""The gateway's calls when the broker is away, when a service is down, and what they carry.

Callers reach RabbitMQ through a loopback proxy (`TcpProxy`) that the tests
cut, as a broker restart would; services talk to the broker directly.
"""
import time

import eventlet
import pytest
import requests
from nameko.containers import ServiceContainer
from nameko.testing.services import dummy, entrypoint_hook

from umpnet_gateway.http import ServiceUnavailable
from umpnet_gateway.rpc import ServiceProxies
from umpnet_kernel.manifest import discover, service_names
from umpnet_kernel.nameko import CallContext, rpc
from umpnet_kernel.tcp_proxy import TcpProxy
from umpnet_kernel.topology import queue_depths

from tests.conftest import wait_until

pytestmark = pytest.mark.integration

ran: list[int] = []


class Probe:
    name = "probe"
    context = CallContext()

    @rpc
    def record(self, n):
        ran.append(n)
        return n

    @rpc
    def whoami(self):
        c = self.context
        return {"actor_id": c.actor_id, "source": c.source, "correlation_id": c.correlation_id,
                "idempotency_key": c.idempotency_key}


class Caller:
    """A gateway-like caller: one worker, `services.context` filled in as the gateway does."""

    name = "caller"
    services = ServiceProxies("probe")

    @dummy
    def call(self, method, *args, timeout=None, context=None):
        self.services.context.update(context or {})
        return self.services.call("probe", method, *args, timeout=timeout)


@pytest.fixture(autouse=True)
def _clear():
    ran.clear()


@pytest.fixture
def proxy(rabbit_config):
    proxy = TcpProxy.for_uri(rabbit_config["AMQP_URI"])
    yield proxy
    proxy.close()


def call(container, method, *args, **kwargs):
    with entrypoint_hook(container, "call") as hook:
        return hook(method, *args, **kwargs)


def test_the_callers_context_travels_with_the_call(container_factory, rabbit_config):
    container_factory(Probe, rabbit_config).start()
    caller = container_factory(Caller, rabbit_config)
    caller.start()
    answer = call(caller, "whoami", context={"actor_id": "m-7", "source": "198.51.100.4"})
    assert answer["actor_id"] == "m-7" and answer["source"] == "198.51.100.4"
    assert answer["correlation_id"].startswith("caller.call.")  # the gateway's call id starts the chain
    assert answer["idempotency_key"]  # the request's id
    other = call(caller, "whoami")
    assert other["actor_id"] is None and other["idempotency_key"] != answer["idempotency_key"]


def test_a_request_abandoned_by_its_caller_never_runs(container_factory, rabbit_config):
    probe = container_factory(Probe, rabbit_config)
    probe.start()
    probe.stop()  # its queue stays; nobody consumes it
    caller = container_factory(Caller, rabbit_config)
    caller.start()

    def abandoned(n):
        with pytest.raises(ServiceUnavailable) as raised:
            call(caller, "record", n, timeout=0.5)
        return raised.value

    errors = list(eventlet.GreenPool().imap(abandoned, range(20)))
    assert all(e.retry_after for e in errors)  # 503 with Retry-After
    # Expired in the queue: the broker drops them without any consumer.
    wait_until(lambda: queue_depths(rabbit_config["AMQP_URI"], ["rpc-probe"]) == {"rpc-probe": 0}, timeout=5)
    container_factory(Probe, rabbit_config).start()
    started = time.monotonic()
    assert call(caller, "record", 99) == 99
    assert time.monotonic() - started < 1.0  # no backlog of dead requests in the way
    eventlet.sleep(0.3)
    assert ran == [99]


def test_a_broker_connection_error_is_a_503_with_retry_after(proxy, container_factory, rabbit_config):
    container_factory(Probe, rabbit_config).start()
    caller = container_factory(Caller, dict(rabbit_config, AMQP_URI=proxy.uri(rabbit_config["AMQP_URI"])))
    caller.start()
    assert call(caller, "record", 1) == 1
    proxy.cut()
    started = time.monotonic()
    with pytest.raises(ServiceUnavailable) as raised:
        call(caller, "record", 2, timeout=30)  # a connection error, long before the deadline
    assert time.monotonic() - started < 15
    assert raised.value.retry_after
    proxy.restore()
    with eventlet.Timeout(20):
        while True:
            try:
                assert call(caller, "record", 3, timeout=2) == 3
                break
            except ServiceUnavailable:
                eventlet.sleep(0.5)


@pytest.fixture
def gateway_through(proxy, platform_config, web_config, run_service):
    """Members and mailer on the broker; the gateway reaching it through `proxy`."""

    def start(*services):
        for service_cls in services:
            run_service(service_cls)
        from umpnet_gateway.service import GatewayService

        config = dict(platform_config, **web_config, AMQP_URI=proxy.uri(platform_config["AMQP_URI"]))
        gateway = ServiceContainer(GatewayService, config)
        gateway.start()
        return gateway

    started = []
    yield lambda *services: started.append(start(*services)) or "http://" + web_config["WEB_SERVER_ADDRESS"]
    for gateway in started:
        gateway.kill()


def timed_get(url):
    started = time.monotonic()
    response = requests.get(url, timeout=10)
    return response, time.monotonic() - started


def test_health_says_which_part_is_down_and_answers_fast(proxy, gateway_through):
    url = gateway_through(*(manifest.load_class() for manifest in discover()))
    response, _ = timed_get(url + "/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "services": {name: "ok" for name in service_names()}, "broker": "ok"}

    proxy.cut()
    response, elapsed = timed_get(url + "/health")
    assert elapsed < 3.5
    assert response.status_code == 503
    assert response.json() == {"status": "degraded", "services": {name: "unavailable" for name in service_names()},
                               "broker": "unavailable"}
    response = requests.get(url + "/api/themes", timeout=20)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "service_unavailable"
    assert response.headers["Retry-After"] == "5"
    proxy.restore()


def test_health_names_a_stopped_service_while_the_broker_is_fine(gateway_through):
    from members.service import MembersService

    url = gateway_through(MembersService)  # the mailer is not running
    response, elapsed = timed_get(url + "/health")
    assert elapsed < 3.5
    assert response.status_code == 503
    states = {**{name: "unavailable" for name in service_names()}, "members": "ok"}
    assert response.json() == {"status": "degraded", "services": states, "broker": "ok"}


def test_requests_are_transient_and_expire_with_their_deadline(container_factory, rabbit_config):
    """A request (it may carry a password) never needs RabbitMQ's disk: it dies with its caller's deadline."""
    from kombu import Connection

    probe = container_factory(Probe, rabbit_config)
    probe.start()
    probe.stop()  # its queue stays; we read what arrives there
    caller = container_factory(Caller, rabbit_config)
    caller.start()
    waiting = eventlet.spawn(call, caller, "record", 1, timeout=3)
    with Connection(rabbit_config["AMQP_URI"]) as conn:
        channel = conn.channel()
        message = wait_until(lambda: channel.basic_get("rpc-probe", no_ack=True), timeout=3)
        assert message.properties["delivery_mode"] == 1
        assert 0 < int(message.properties["expiration"]) <= 3000
    with pytest.raises(ServiceUnavailable):
        waiting.wait()
