"""Batch subscriptions (`subscribe(..., batch=N)`) against the real RabbitMQ.

What they must keep of the one-message subscriber: each event's effect once
(at least once delivery, idempotent effects, one transaction per batch), a
failing message retried and parked alone, delivery order per subscription,
nothing lost or doubled when the container dies mid-batch; and they must
never stall, whatever the bursts (the hammer test).
"""
import random
from collections import Counter

import eventlet
import pytest
from eventlet.event import Event
from kombu.message import Message
from nameko.amqp.publish import Publisher
from sqlalchemy import Column, Integer, MetaData, String, Table, insert, select

from umpnet_kernel.application import Application
from umpnet_kernel.database import Database
from umpnet_kernel.messages import PermanentFailure
from umpnet_kernel.nameko import EventSourcing, declare_subscriptions, subscribe
from umpnet_kernel.store import create_kernel_tables
from umpnet_kernel.topology import events_exchange, queue_depths

pytestmark = pytest.mark.integration

handled_metadata = MetaData()
handled = Table(
    "handled",
    handled_metadata,
    Column("event_id", String(50), primary_key=True),
    Column("subscription", String(20)),
    Column("batch_size", Integer),
)

calls: Counter = Counter()  # event id -> times a handler was given it
batches: list[list[str]] = []  # event ids of each handler call, in call order
# When set, the "opened" handler waits on it: "in_transaction" inside its
# transaction (holding SQLite's write lock), "before" before it begins.
hold = {"in_transaction": None, "before": None}


def build(db, config):
    with db.write() as conn:
        create_kernel_tables(conn)
        handled_metadata.create_all(conn)
    return Application(db)


def _handle(app, subscription, incomings):
    batches.append([incoming.event_id for incoming in incomings])
    for incoming in incomings:
        calls[incoming.event_id] += 1
    for incoming in incomings:
        owner = incoming.data.get("owner", "")
        if owner.startswith("broken"):
            raise RuntimeError("this one never works")
        if owner.startswith("invalid"):
            raise PermanentFailure("no retry can fix this")
        if owner.startswith("flaky") and calls[incoming.event_id] == 1:
            raise RuntimeError("works the second time")

    def record(incoming):
        def command(uow):
            if subscription == "opened" and hold["in_transaction"] is not None:
                hold["in_transaction"].wait()
            if uow.first_delivery(f"auditor.{subscription}", incoming.event_id):
                uow.conn.execute(insert(handled).values(
                    event_id=incoming.event_id, subscription=subscription, batch_size=len(incomings)))
        return command

    if subscription == "opened" and hold["before"] is not None:
        hold["before"].wait()
    app.execute_many([(incoming.context(), record(incoming)) for incoming in incomings])


class BatchAuditor:
    name = "auditor"
    app = EventSourcing(build, poll_interval=0.2)

    @subscribe("bank", "test.AccountOpened", batch=20)
    def on_account_opened(self, incomings):
        _handle(self.app, "opened", incomings)

    @subscribe("bank", "test.AccountClosed", batch=20)  # a second subscription on the same channel
    def on_account_closed(self, incomings):
        _handle(self.app, "closed", incomings)


OPENED = "evt-bank-test.AccountOpened--auditor.on_account_opened"
CLOSED = "evt-bank-test.AccountClosed--auditor.on_account_closed"


@pytest.fixture
def config(rabbit_config, tmp_path):
    calls.clear()
    batches.clear()
    hold.update(in_transaction=None, before=None)
    return {**rabbit_config, "EVENT_RETRY_DELAYS_MS": [100, 300], "DATABASE_URL": f"sqlite:///{tmp_path}/auditor.db"}


@pytest.fixture
def multiple_acks(monkeypatch):
    """How many acks went out with multiple=True (kombu's own Message.ack, spied on)."""
    seen = []
    ack = Message.ack

    def spy(self, multiple=False):
        if multiple:
            seen.append(self.delivery_tag)
        return ack(self, multiple=multiple)

    monkeypatch.setattr(Message, "ack", spy)
    return seen


def envelope(n, event_type="test.AccountOpened", owner=None):
    return {"event_id": f"{event_type[5:]}-{n}", "event_type": event_type, "schema_version": 1,
            "stream_id": f"account-{n}", "stream_version": 1, "position": n,
            "occurred_at": "2026-12-02T10:00:00+00:00", "data": {"account_id": str(n), "owner": owner or f"owner{n}"}}


def publish(publisher, bodies):
    for body in bodies:
        publisher.publish(body, exchange=events_exchange("bank"), routing_key=body["event_type"])


def rows(config):
    db = Database(config["DATABASE_URL"])
    try:
        with db.read() as conn:
            return {r.event_id: r for r in conn.execute(select(handled))}
    finally:
        db.dispose()


def wait_for(predicate, timeout=20):
    with eventlet.Timeout(timeout):
        while not predicate():
            eventlet.sleep(0.05)


def test_waiting_messages_are_handled_in_batches_in_order_and_acked_together(
    container_factory, config, multiple_acks
):
    declare_subscriptions(BatchAuditor, config)
    bodies = [envelope(n) for n in range(100)]
    publish(Publisher(config["AMQP_URI"]), bodies)  # all waiting before the service starts
    container = container_factory(BatchAuditor, config)
    container.start()
    wait_for(lambda: len(rows(config)) == 100)
    handled_ids = [event_id for batch in batches for event_id in batch]
    assert handled_ids == [body["event_id"] for body in bodies]  # in delivery order, each once
    assert max(len(batch) for batch in batches) == 20 and len(batches) <= 10
    assert multiple_acks  # one ack for many
    container.stop()
    assert queue_depths(config["AMQP_URI"], [OPENED])[OPENED] == 0  # every one acked


def test_a_failing_message_of_a_batch_is_retried_and_parked_alone(container_factory, config):
    declare_subscriptions(BatchAuditor, config)
    publisher = Publisher(config["AMQP_URI"])
    hold["before"] = Event()
    container = container_factory(BatchAuditor, config)
    container.start()
    # A first message whose handler waits, so that the six below all arrive
    # while it runs and make the next batch (the broker may hand messages
    # over one at a time on a loaded machine: waiting beats hoping).
    publish(publisher, [envelope(99, owner="fine-99")])
    wait_for(lambda: batches)
    owners = ["fine-0", "broken-1", "fine-2", "flaky-3", "invalid-4", "fine-5"]
    publish(publisher, [envelope(n, owner=owner) for n, owner in enumerate(owners)])
    subscriber = next(e for e in container.entrypoints if e.method_name == "on_account_opened")
    wait_for(lambda: subscriber._arrived.qsize() == len(owners))
    hold["before"].send()
    wait_for(lambda: queue_depths(config["AMQP_URI"], [OPENED + ".parked"])[OPENED + ".parked"] == 2)
    done = rows(config)
    assert sorted(done) == ["AccountOpened-0", "AccountOpened-2", "AccountOpened-3", "AccountOpened-5",
                            "AccountOpened-99"]
    assert all(row.batch_size == 1 for row in done.values())  # from the one-by-one fallback
    assert batches[:2] == [["AccountOpened-99"], [f"AccountOpened-{n}" for n in range(len(owners))]]
    assert calls["AccountOpened-1"] == 4  # the batch, alone, then two delayed retries: parked
    assert calls["AccountOpened-4"] == 2  # the batch, then alone: a permanent failure is parked at once
    assert calls["AccountOpened-0"] == 2  # the batch (rolled back), then alone: its effect once


def test_a_multiple_ack_never_covers_another_subscriptions_message_still_in_hand(
    container_factory, config, multiple_acks
):
    publisher = Publisher(config["AMQP_URI"])
    hold["before"] = Event()
    container = container_factory(BatchAuditor, config)
    container.start()
    publish(publisher, [envelope(0)])  # delivery tag 1: its handler waits inside its transaction
    wait_for(lambda: batches)
    publish(publisher, [envelope(n, "test.AccountClosed") for n in range(10)])  # tags 2..11, handled at once
    wait_for(lambda: len(rows(config)) == 10)
    container.kill()  # the held batch dies uncommitted and unacked
    assert "AccountOpened-0" not in rows(config)
    hold["before"] = None
    container = container_factory(BatchAuditor, config)
    container.start()
    wait_for(lambda: "AccountOpened-0" in rows(config))  # delivered again: no ack had covered it
    assert calls["AccountOpened-0"] == 2
    assert all(calls[f"AccountClosed-{n}"] == 1 for n in range(10))  # acked: not delivered again


def test_a_container_killed_mid_batch_loses_nothing_and_doubles_nothing(container_factory, config):
    declare_subscriptions(BatchAuditor, config)
    publish(Publisher(config["AMQP_URI"]), [envelope(n) for n in range(30)])
    hold["in_transaction"] = Event()
    container = container_factory(BatchAuditor, config)
    container.start()
    wait_for(lambda: batches)
    eventlet.sleep(0.2)
    container.kill()  # inside the first batch's transaction
    assert rows(config) == {}
    hold["in_transaction"] = None
    container = container_factory(BatchAuditor, config)
    container.start()
    wait_for(lambda: len(rows(config)) == 30)
    container.stop()
    assert queue_depths(config["AMQP_URI"], [OPENED])[OPENED] == 0
    assert len(rows(config)) == 30


@pytest.mark.parametrize("seed", [7, 11, 13])
def test_bursts_of_every_size_on_two_subscriptions_never_stall_it(container_factory, config, multiple_acks, seed):
    """The hammer: random bursts and pauses on two subscriptions sharing one channel,
    with some messages that fail once; everything must arrive, once, and be acked."""
    rng = random.Random(seed)
    container = container_factory(BatchAuditor, config)
    container.start()
    publisher = Publisher(config["AMQP_URI"])
    expected, flaky = set(), set()
    n = 0
    for _ in range(120):
        burst = []
        for _ in range(rng.choice([1, 1, 2, 5, 19, 20, 21, 45])):
            event_type = rng.choice(["test.AccountOpened", "test.AccountClosed"])
            owner = "flaky" if rng.random() < 0.02 else None
            burst.append(envelope(n, event_type, owner))
            expected.add(burst[-1]["event_id"])
            if owner:
                flaky.add(burst[-1]["event_id"])
            n += 1
        publish(publisher, burst)
        eventlet.sleep(rng.choice([0, 0, 0.001, 0.005, 0.02]))
    wait_for(lambda: len(rows(config)) == len(expected), timeout=60)
    assert set(rows(config)) == expected and flaky
    # Given again only with a failing message in its batch (then alone): never redelivered.
    # A flaky one at most three times: alone (failed: retried later), in a batch that
    # another one failed, then alone again.
    with_a_failure = {event_id for batch in batches if len(batch) > 1 and flaky & set(batch) for event_id in batch}
    assert {event_id: calls[event_id] for event_id in expected - flaky if calls[event_id] > 2} == {}
    assert {event_id: calls[event_id] for event_id in flaky if calls[event_id] > 3} == {}
    assert all(calls[event_id] == 1 for event_id in expected - with_a_failure - flaky)
    assert max(len(batch) for batch in batches) > 1 and multiple_acks
    container.stop()
    depths = queue_depths(config["AMQP_URI"], [OPENED, CLOSED, OPENED + ".parked", CLOSED + ".parked"])
    assert depths == {OPENED: 0, CLOSED: 0, OPENED + ".parked": 0, CLOSED + ".parked": 0}
