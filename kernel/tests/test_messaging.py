"""The kernel against the real RabbitMQ: relay, subscriptions, retries, parking.

Each test gets its own RabbitMQ vhost (nameko's `rabbit_config` fixture) and its
own SQLite databases.
"""
import json
import logging

import eventlet
import pytest
from kombu import Connection, Queue
from nameko.testing.services import entrypoint_waiter
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select

from umpnet_kernel.application import Application
from umpnet_kernel.database import Database
from umpnet_kernel.events import Context
from umpnet_kernel.messages import PermanentFailure
from umpnet_kernel.nameko import EventSourcing, declare_subscriptions, rpc, subscribe
from umpnet_kernel.relay import OutboxRelay
from umpnet_kernel.store import create_kernel_tables
from umpnet_kernel.topology import events_exchange, queue_depths

from sample_domain import Account, Balances, read_models

pytestmark = pytest.mark.integration

effects_metadata = MetaData()
effects = Table(
    "effects",
    effects_metadata,
    Column("position", Integer, primary_key=True, autoincrement=False),
    Column("account_id", String(50)),
    Column("attempt", Integer),
)


def build_bank(db, config):
    with db.write() as conn:
        create_kernel_tables(conn)
        read_models.create_all(conn)
    return Application(db, [Balances()])


def build_auditor(db, config):
    with db.write() as conn:
        create_kernel_tables(conn)
        effects_metadata.create_all(conn)
    return Application(db)


class Bank:
    name = "bank"
    app = EventSourcing(build_bank, poll_interval=0.2)

    @rpc
    def open(self, account_id, owner):
        self.app.execute(Context(), lambda uow: uow.add(Account.open(account_id, owner)))


attempts: dict[str, int] = {}


class Auditor:
    """Records one effect per AccountOpened; some owners make it fail."""

    name = "auditor"
    app = EventSourcing(build_auditor, poll_interval=0.2)

    @subscribe("bank", "test.AccountOpened")
    def on_account_opened(self, incoming):
        owner = incoming.data["owner"]
        attempts[owner] = attempts.get(owner, 0) + 1
        if owner.startswith("broken"):
            raise RuntimeError("this one never works")
        if owner.startswith("invalid"):
            raise PermanentFailure("no retry can fix this")
        if owner.startswith("flaky") and attempts[owner] == 1:
            raise RuntimeError("works the second time")

        def record(uow):
            if uow.first_delivery("auditor.on_account_opened", incoming.event_id):
                uow.conn.execute(
                    insert(effects).values(
                        position=incoming.position, account_id=incoming.data["account_id"], attempt=attempts[owner]
                    )
                )

        self.app.execute(incoming.context(), record)


@pytest.fixture
def config(rabbit_config, tmp_path):
    attempts.clear()
    return {
        **rabbit_config,
        "EVENT_RETRY_DELAYS_MS": [100, 300],
        "DATA_DIR": str(tmp_path),
    }


def start(container_factory, service_cls, config, tmp_path):
    cfg = dict(config, DATABASE_URL=f"sqlite:///{tmp_path}/{service_cls.name}.db")
    container = container_factory(service_cls, cfg)
    container.start()
    return container


def effect_rows(tmp_path):
    db = Database(f"sqlite:///{tmp_path}/auditor.db")
    try:
        with db.read() as conn:
            return list(conn.execute(select(effects).order_by(effects.c.position)))
    finally:
        db.dispose()


def wait_for(predicate, timeout=10):
    with eventlet.Timeout(timeout):
        while not predicate():
            eventlet.sleep(0.05)


def open_accounts(container, owners):
    app = next(d for d in container.dependencies if isinstance(d, EventSourcing)).app
    for n, owner in enumerate(owners):
        app.execute(Context(), lambda uow, n=n, owner=owner: uow.add(Account.open(f"acc{n}", owner)))


def test_committed_events_reach_a_subscriber_once_each(container_factory, config, tmp_path):
    start(container_factory, Auditor, config, tmp_path)
    bank = start(container_factory, Bank, config, tmp_path)
    open_accounts(bank, [f"owner{n}" for n in range(25)])
    wait_for(lambda: len(effect_rows(tmp_path)) == 25)
    eventlet.sleep(0.3)
    assert len(effect_rows(tmp_path)) == 25


def test_the_relay_publishes_in_position_order_with_confirms(container_factory, config, tmp_path):
    with Connection(config["AMQP_URI"]) as conn:
        probe = Queue("probe", exchange=events_exchange("bank"), routing_key="#", durable=True)
        probe(conn).declare()
        bank = start(container_factory, Bank, config, tmp_path)
        open_accounts(bank, [f"owner{n}" for n in range(40)])
        received = []
        wait_for(lambda: received.extend(_drain(conn, "probe")) or len(received) >= 40)
    positions = [body["position"] for body in received]
    assert positions == sorted(positions) and len(positions) == 40
    assert {body["event_type"] for body in received} == {"test.AccountOpened"}
    assert received[0]["data"]["owner"] == "owner0"


def _drain(conn, queue_name):
    bodies = []
    channel = conn.channel()
    while True:
        message = channel.basic_get(queue_name, no_ack=True)
        if message is None:
            break
        bodies.append(json.loads(message.body))
    channel.close()
    return bodies


def test_events_committed_while_the_relay_was_down_are_published_when_it_resumes(
    container_factory, config, tmp_path
):
    # The bank "crashed" after committing: events are in its store, none published.
    declare_subscriptions(Auditor, config)
    db = Database(f"sqlite:///{tmp_path}/bank.db")
    app = build_bank(db, config)
    for n in range(10):
        app.execute(Context(), lambda uow, n=n: uow.add(Account.open(f"acc{n}", f"owner{n}")))
    db.dispose()
    # Nobody consumes yet; the queue was declared first, so nothing is dropped.
    start(container_factory, Bank, config, tmp_path)
    wait_for(lambda: queue_depths(config["AMQP_URI"], ["evt-bank-test.AccountOpened--auditor.on_account_opened"])[
        "evt-bank-test.AccountOpened--auditor.on_account_opened"] == 10)
    start(container_factory, Auditor, config, tmp_path)
    wait_for(lambda: len(effect_rows(tmp_path)) == 10)


def test_a_redelivered_event_has_no_second_effect(container_factory, config, tmp_path):
    auditor = start(container_factory, Auditor, config, tmp_path)
    db = Database(f"sqlite:///{tmp_path}/bank.db")
    app = build_bank(db, config)
    app.execute(Context(), lambda uow: uow.add(Account.open("acc1", "owner1")))
    publishes = []
    from nameko.amqp.publish import Publisher

    publisher = Publisher(config["AMQP_URI"])

    def publish_twice(messages):
        for event_type, body in messages:
            for _ in range(2):
                with entrypoint_waiter(auditor, "on_account_opened"):
                    publisher.publish(body, exchange=events_exchange("bank"), routing_key=event_type)
                publishes.append(body["event_id"])

    OutboxRelay(db, publish_many=publish_twice).publish_pending()
    db.dispose()
    assert len(publishes) == 2 and publishes[0] == publishes[1]
    assert len(effect_rows(tmp_path)) == 1


def test_failures_are_retried_after_a_delay_then_parked_without_blocking_others(
    container_factory, config, tmp_path, caplog
):
    caplog.set_level(logging.WARNING, logger="umpnet_kernel.nameko")
    start(container_factory, Auditor, config, tmp_path)
    bank = start(container_factory, Bank, config, tmp_path)
    open_accounts(bank, ["broken-1", "flaky-1", "invalid-1", "fine-1", "fine-2"])
    wait_for(lambda: len(effect_rows(tmp_path)) == 3)
    rows = {r.account_id: r.attempt for r in effect_rows(tmp_path)}
    assert rows == {"acc1": 2, "acc3": 1, "acc4": 1}  # flaky on its retry, the fine ones at once
    parked = "evt-bank-test.AccountOpened--auditor.on_account_opened.parked"
    wait_for(lambda: queue_depths(config["AMQP_URI"], [parked])[parked] == 2)
    assert attempts["broken-1"] == 3  # the first try and two delayed retries
    assert attempts["invalid-1"] == 1  # a permanent failure is parked at once
    failures = [r.getMessage() for r in caplog.records if r.name == "umpnet_kernel.nameko" and " failed on " in r.getMessage()]
    assert any("RuntimeError: this one never works" in m for m in failures)  # what failed, not only its class


AUDITOR_QUEUE = "evt-bank-test.AccountOpened--auditor.on_account_opened"


def test_unreadable_messages_are_parked_raw_and_their_body_never_logged(container_factory, config, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    start(container_factory, Auditor, config, tmp_path)
    unreadable = [
        (b'{"event_id": "secret-body-1", "data": {"email": "ann@example.org"', "application/json"),  # cut short
        (b"secret-body-2 ann@example.org", "text/plain"),  # a content type nobody accepts here
    ]
    with Connection(config["AMQP_URI"]) as conn:
        producer = conn.Producer()
        for body, content_type in unreadable:
            producer.publish(body, exchange="", routing_key=AUDITOR_QUEUE, content_type=content_type,
                             content_encoding="utf-8", headers={"event_type": "test.AccountOpened"})
        parked = AUDITOR_QUEUE + ".parked"
        wait_for(lambda: queue_depths(config["AMQP_URI"], [parked])[parked] == 2)
        channel = conn.channel()
        kept = [channel.basic_get(parked, no_ack=True) for _ in unreadable]
        channel.close()
    raw = lambda body: body.encode("utf-8") if isinstance(body, str) else body  # py-amqp decodes utf-8 bodies
    assert sorted((raw(m.body), m.properties["content_type"]) for m in kept) == sorted(unreadable)
    assert queue_depths(config["AMQP_URI"], [AUDITOR_QUEUE])[AUDITOR_QUEUE] == 0
    assert "secret-body" not in caplog.text and "ann@example.org" not in caplog.text
    assert effect_rows(tmp_path) == []


mirror_metadata = MetaData()
owners = Table(
    "owners",
    mirror_metadata,
    Column("account_id", String(50), primary_key=True),
    Column("owner", String(50)),
)


def build_mirror(db, config):
    with db.write() as conn:
        create_kernel_tables(conn)
        mirror_metadata.create_all(conn)
    return Application(db)


class OwnerMirror:
    """Keeps the latest owner of each account, whatever order the events arrive in."""

    name = "mirror"
    app = EventSourcing(build_mirror, poll_interval=0.2)

    @subscribe("bank", "test.AccountOpened")
    def on_account_opened(self, incoming):
        def apply(uow):
            consumer = "mirror.owners"
            if not uow.advance_checkpoint(consumer, incoming.stream_id, incoming.stream_version):
                return  # older than what we have (or the same, redelivered): nothing to do
            row = {"account_id": incoming.data["account_id"], "owner": incoming.data["owner"]}
            uow.conn.execute(owners.delete().where(owners.c.account_id == row["account_id"]))
            uow.conn.execute(owners.insert().values(**row))

        self.app.execute(incoming.context(), apply)


def test_a_consumer_keeps_the_newest_state_when_events_arrive_out_of_order(container_factory, config, tmp_path):
    mirror = start(container_factory, OwnerMirror, config, tmp_path)
    from nameko.amqp.publish import Publisher

    publisher = Publisher(config["AMQP_URI"])

    def envelope(version, owner):
        return {"event_id": f"e{version}", "event_type": "test.AccountOpened", "schema_version": 1,
                "stream_id": "account-1", "stream_version": version, "position": version,
                "occurred_at": "2026-11-23T10:00:00+00:00", "data": {"account_id": "1", "owner": owner}}

    for version, owner in [(3, "newest"), (1, "oldest"), (2, "middle"), (3, "newest")]:
        with entrypoint_waiter(mirror, "on_account_opened"):
            publisher.publish(envelope(version, owner), exchange=events_exchange("bank"), routing_key="test.AccountOpened")
    db = Database(f"sqlite:///{tmp_path}/mirror.db")
    with db.read() as conn:
        assert list(conn.execute(select(owners.c.owner))) == [("newest",)]
    db.dispose()


def test_rpc_replies_without_waiting_for_a_publisher_confirm(container_factory, config, tmp_path, monkeypatch):
    from amqp.channel import Channel
    from nameko.standalone.rpc import ServiceRpcProxy

    confirms = []  # (routing key, whether the publish waited for a confirm)
    publish = Channel._basic_publish

    def recording_publish(self, msg, exchange="", routing_key="", *args, **kwargs):
        # py-amqp waits for a confirm after this on a channel in confirm mode (nameko's publishers)
        confirms.append((routing_key, self._confirm_selected))
        return publish(self, msg, exchange, routing_key, *args, **kwargs)

    monkeypatch.setattr(Channel, "_basic_publish", recording_publish)
    monkeypatch.setattr(Channel, "basic_publish", recording_publish)  # py-amqp's alias of the same
    start(container_factory, Auditor, config, tmp_path)
    start(container_factory, Bank, config, tmp_path)
    with ServiceRpcProxy("bank", config) as bank:
        assert bank.open("acc-rpc", "Ann") is None  # the reply came back

    request, reply = [c for c in confirms if c[0] != "test.AccountOpened"]  # the event is the relay's
    assert request == ("bank.open", True)  # the caller's request is confirmed, as nameko does
    assert reply[1] is False  # the service's reply is not waited for
    wait_for(lambda: [row.account_id for row in effect_rows(tmp_path)] == ["acc-rpc"])  # and the command took effect


def test_a_subscriber_that_cannot_park_a_message_stays_up_and_parks_it_later(container_factory, config, tmp_path):
    from umpnet_kernel.nameko import EventSubscriber
    from umpnet_kernel.tcp_proxy import TcpProxy

    auditor = start(container_factory, Auditor, config, tmp_path)
    subscriber = next(e for e in auditor.entrypoints if isinstance(e, EventSubscriber))
    unreachable = TcpProxy.for_uri(config["AMQP_URI"])
    unreachable.cut()  # ECONNREFUSED: the broker restarting, as seen by the publisher
    subscriber.publisher.amqp_uri = unreachable.uri(config["AMQP_URI"])
    with Connection(config["AMQP_URI"]) as conn:
        conn.Producer().publish({"event_id": "no-such-envelope"}, exchange="", routing_key=AUDITOR_QUEUE,
                                serializer="json")
    eventlet.sleep(5)  # parking it failed at least once
    assert not auditor._died.ready(), "the subscriber's container exited"
    subscriber.publisher.amqp_uri = config["AMQP_URI"]  # the broker is back
    parked = AUDITOR_QUEUE + ".parked"
    wait_for(lambda: queue_depths(config["AMQP_URI"], [parked])[parked] == 1, timeout=30)


@pytest.mark.parametrize("outcome", ["result", "error", "unserialisable"])
def test_a_reply_is_the_message_nameko_s_responder_sends(config, outcome):
    """The kept reply publisher (`ReplyPublisher`, `reply_payload`) against nameko's own Responder."""
    from kombu import Exchange
    from nameko import rpc as nameko_rpc
    from umpnet_kernel.errors import NotFound
    from umpnet_kernel.nameko.rpc import ReplyPublisher, reply_payload

    class Request:  # what the handler sees of the request message
        properties = {"content_type": "application/json", "reply_to": "replies", "correlation_id": "call-1"}

    result, exc_info = {"id": 1}, None
    if outcome == "error":
        try:
            raise NotFound("no such member")
        except NotFound:
            import sys
            result, exc_info = None, sys.exc_info()
    elif outcome == "unserialisable":
        result = object()
    exchange = Exchange("nameko-rpc", type="topic", durable=True)
    with Connection(config["AMQP_URI"]) as conn:
        Queue("replies", exchange=exchange, routing_key="replies", durable=False)(conn).declare()
        theirs = nameko_rpc.Responder(config["AMQP_URI"], exchange, "json", Request()).send_response(result, exc_info)
        payload, serializer, *ours = reply_payload(Request(), result, exc_info)
        publisher = ReplyPublisher(config["AMQP_URI"])
        publisher.publish(payload, serializer=serializer, exchange=exchange, routing_key="replies", correlation_id="call-1")
        publisher.close()
        channel = conn.channel()
        sent = [channel.basic_get("replies", no_ack=True) for _ in range(2)]
        channel.close()
    assert (theirs[0], type(theirs[1][1]) if theirs[1] else None) == (ours[0], type(ours[1][1]) if ours[1] else None)
    first, second = sent
    assert json.loads(first.body) == json.loads(second.body)
    keep = ("content_type", "content_encoding", "correlation_id", "delivery_mode")
    assert {k: first.properties.get(k) for k in keep} == {k: second.properties.get(k) for k in keep}
    assert first.properties["delivery_mode"] == 2 and first.properties["correlation_id"] == "call-1"


@pytest.mark.parametrize("size", [200, 300_000])  # the second more than a frame: py-amqp splits its body
def test_a_batch_written_in_one_go_sends_the_bytes_one_publish_per_message_sends(config, size):
    """`BatchPublisher.one_write`: the frames of kombu's `producer.publish`, message by message,
    gathered into one socket write; the broker takes and confirms them, in order."""
    from umpnet_kernel.nameko.publisher import BatchPublisher

    messages = [(f"test.Event{n % 2}", {"event_id": f"e{n}", "position": n, "data": {"text": "é" * (size // 2)}})
                for n in range(5)]
    sent = {}
    with Connection(config["AMQP_URI"]) as conn:
        probe = Queue("probe", exchange=events_exchange("bytes"), routing_key="#", durable=True)
        probe(conn).declare()
        for one_write in (False, True):
            publisher = BatchPublisher(config["AMQP_URI"], events_exchange("bytes"))
            publisher.one_write = one_write
            publisher.publish_many(messages[:1])  # connected (and the exchange declared) before recording
            transport = publisher._connection.connection.transport
            writes, send = [], transport._write
            transport._write = lambda data: (writes.append(bytes(data)), send(data))
            publisher.publish_many(messages)
            transport._write = send
            publisher.close()
            sent[one_write] = writes
        received = _drain(conn, "probe")
    assert b"".join(sent[True]) == b"".join(sent[False])
    assert len(sent[True]) == 1 and len(sent[False]) >= 5
    assert [body["event_id"] for body in received] == ["e0", *[f"e{n}" for n in range(5)]] * 2
