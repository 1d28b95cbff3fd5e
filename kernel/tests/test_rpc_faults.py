"""The kernel's RPC entrypoint when the broker goes away, and when callers give up.

The service reaches RabbitMQ through a loopback proxy (`TcpProxy`) that the
tests cut, as a broker restart would; callers talk to the broker directly.
"""
import logging
import time
import uuid

import eventlet
import pytest
from kombu import Connection, Exchange, Queue
from nameko.standalone.rpc import ServiceRpcProxy

from umpnet_kernel.nameko import CallContext, rpc
from umpnet_kernel.tcp_proxy import TcpProxy
from umpnet_kernel.topology import queue_depths

pytestmark = pytest.mark.integration

started: list[int] = []
finished: list[int] = []


class Echo:
    name = "echo"

    @rpc
    def slow(self, n):
        started.append(n)
        eventlet.sleep(0.3)
        finished.append(n)
        return n


def wait_until(predicate, timeout=15.0):
    with eventlet.Timeout(timeout, TimeoutError(f"condition not met within {timeout}s")):
        while not predicate():
            eventlet.sleep(0.05)


@pytest.fixture
def proxy(rabbit_config):
    proxy = TcpProxy.for_uri(rabbit_config["AMQP_URI"])
    yield proxy
    proxy.close()


@pytest.fixture(autouse=True)
def _clear():
    started.clear()
    finished.clear()


def through(proxy, rabbit_config, **extra):
    return dict(rabbit_config, AMQP_URI=proxy.uri(rabbit_config["AMQP_URI"]), **extra)


def test_a_service_can_be_killed_while_the_broker_is_away(proxy, container_factory, rabbit_config):
    container = container_factory(Echo, through(proxy, rabbit_config))
    container.start()
    proxy.cut()
    eventlet.sleep(4)  # the consumer is retrying to connect
    killing = eventlet.spawn(container.kill)  # (nameko swallows a timeout raised inside kill)
    try:
        with eventlet.Timeout(5, TimeoutError("kill() waits for the broker to come back")):
            killing.wait()
    finally:
        proxy.restore()
        killing.wait()


def test_a_service_can_be_stopped_while_the_broker_is_away(proxy, container_factory, rabbit_config):
    container = container_factory(Echo, through(proxy, rabbit_config))
    container.start()
    proxy.cut()
    eventlet.sleep(4)  # the consumer is retrying to connect
    stopping = eventlet.spawn(container.stop)
    try:
        with eventlet.Timeout(5, TimeoutError("stop() waits for the broker to come back")):
            stopping.wait()
    finally:
        proxy.restore()
        stopping.wait()


def test_a_service_outlives_a_broker_outage_while_replying_and_serves_again(
    proxy, container_factory, rabbit_config
):
    container = container_factory(Echo, through(proxy, rabbit_config))
    container.start()
    with ServiceRpcProxy("echo", rabbit_config) as echo:
        assert echo.slow(0) == 0
        for n in range(1, 5):
            echo.slow.call_async(n)
        wait_until(lambda: len(started) == 5)  # four requests in flight
        proxy.cut()  # their replies cannot be published: ECONNREFUSED
        wait_until(lambda: len(finished) == 5)
        eventlet.sleep(10)  # the broker restart of the fault review: longer than any retry of a reply
        proxy.restore()
        with eventlet.Timeout(20, TimeoutError("no answer after the broker came back")):
            assert echo.slow(99) == 99
    assert not container._died.ready()


class RawCaller:
    """Sends RPC requests the way nameko's proxies do, with full control of the message."""

    def __init__(self, amqp_uri):
        self.connection = Connection(amqp_uri)
        self.exchange = Exchange("nameko-rpc", type="topic", durable=True)
        self.reply_key = str(uuid.uuid4())
        self.replies = Queue(f"test-replies-{self.reply_key}", self.exchange, routing_key=self.reply_key,
                             auto_delete=True, durable=False)
        self.replies(self.connection).declare()
        self.received = {}

    def send(self, service, method, args=(), headers=None, correlation_id=None, **properties):
        correlation_id = correlation_id or str(uuid.uuid4())
        self.connection.Producer().publish(
            {"args": list(args), "kwargs": {}}, exchange=self.exchange, routing_key=f"{service}.{method}",
            reply_to=self.reply_key, correlation_id=correlation_id, headers=headers or {}, serializer="json",
            **properties,
        )
        return correlation_id

    def reply(self, correlation_id, timeout=10.0):
        def arrived():
            message = self.replies(self.connection.default_channel).get(no_ack=True)
            if message is not None:
                self.received[message.properties["correlation_id"]] = message.decode()
            return correlation_id in self.received

        wait_until(arrived, timeout)
        body = self.received.pop(correlation_id)
        assert body["error"] is None, body["error"]
        return body["result"]

    def close(self):
        self.connection.release()


@pytest.fixture
def caller(rabbit_config):
    caller = RawCaller(rabbit_config["AMQP_URI"])
    yield caller
    caller.close()


DEADLINE = "x-umpnet-deadline"  # the absolute deadline (epoch seconds) the gateway sends


def test_a_request_past_its_deadline_is_acked_and_dropped_without_running(
    container_factory, rabbit_config, caller, caplog
):
    container = container_factory(Echo, rabbit_config)
    container.start()
    caplog.set_level(logging.WARNING, logger="umpnet_kernel.nameko")
    caller.send("echo", "slow", [1], headers={DEADLINE: time.time() - 1})
    fresh = caller.send("echo", "slow", [2], headers={DEADLINE: time.time() + 30})
    assert caller.reply(fresh) == 2
    container.stop()  # an unacked request would be back in the queue now
    assert queue_depths(rabbit_config["AMQP_URI"], ["rpc-echo"]) == {"rpc-echo": 0}
    assert started == [2]
    dropped = [r for r in caplog.records if r.name == "umpnet_kernel.nameko" and "deadline" in r.getMessage()]
    assert len(dropped) == 1 and not dropped[0].args  # says nothing about the request


class Who:
    name = "who"
    context = CallContext()

    @rpc
    def whoami(self):
        c = self.context
        return {"actor_id": c.actor_id, "correlation_id": c.correlation_id, "source": c.source,
                "idempotency_key": c.idempotency_key}


def test_the_callers_context_reaches_the_service(container_factory, rabbit_config, caller):
    container_factory(Who, rabbit_config).start()
    headers = {"nameko.actor_id": "m-1", "nameko.source": "203.0.113.9",
               "nameko.call_id_stack": ["gateway.sign_up.abc"]}
    request = caller.send("who", "whoami", headers=headers, correlation_id="req-1")
    assert caller.reply(request) == {"actor_id": "m-1", "correlation_id": "gateway.sign_up.abc",
                                     "source": "203.0.113.9", "idempotency_key": "req-1"}
    anonymous = caller.reply(caller.send("who", "whoami"))
    assert anonymous["actor_id"] is None and anonymous["source"] is None
    assert anonymous["correlation_id"].startswith("who.whoami.")  # the call starts here


seen_keys: list[str] = []


class Once:
    name = "once"
    context = CallContext()

    @rpc
    def remember(self):
        seen_keys.append(self.context.idempotency_key)
        if len(seen_keys) == 1:
            eventlet.sleep(30)  # the process dies here, before its reply and its ack
        return self.context.idempotency_key


def test_a_redelivered_request_carries_the_same_idempotency_key(container_factory, rabbit_config, caller):
    seen_keys.clear()
    first = container_factory(Once, rabbit_config)
    first.start()
    request = caller.send("once", "remember")
    wait_until(lambda: len(seen_keys) == 1)
    first.kill()  # the broker gives the unacked request to the next consumer
    container_factory(Once, rabbit_config).start()
    assert caller.reply(request) == request
    assert seen_keys == [request, request]


def test_replies_go_out_again_on_a_fresh_connection_after_a_broker_restart(proxy, container_factory, rabbit_config):
    # Replies share one kept connection (ReplyPublisher): after a restart it is
    # stale, and the first reply must not be the one lost.
    container = container_factory(Echo, through(proxy, rabbit_config))
    container.start()
    with ServiceRpcProxy("echo", rabbit_config, timeout=15) as echo:
        assert echo.slow(1) == 1
        proxy.cut()
        eventlet.sleep(0.5)
        proxy.restore()
        assert echo.slow(2) == 2  # the consumer reconnects within seconds; the reply finds its way
        assert echo.slow(3) == 3
    assert not container._died.ready()
