"""The broker topology of event subscriptions, declared before anything publishes.

RabbitMQ drops a message that no queue is bound for, even though it confirms the
publish. So every subscriber queue is declared up front (`umpnet migrate` and
each service's start-up), durable, and a quorum queue where the broker has them.

For a subscription whose queue is Q:

    <source>.events --(routing key = event type)--> Q
    Q.retry.<ms>   a failed message waits here <ms>, then dead-letters back into Q
    Q.parked       where a message lands after its last retry, or when it keeps
                   killing its consumer (quorum delivery limit): kept for an operator

Retries go to a side queue rather than back to the head of Q, so a failing
message never blocks the ones behind it.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from kombu import Connection, Exchange, Queue

PERSISTENT = 2
DEFAULT_RETRY_DELAYS_MS = (1_000, 10_000, 60_000)
DEFAULT_DELIVERY_LIMIT = 20


def events_exchange(source_service: str) -> Exchange:
    """The topic exchange a service publishes its events to (nameko's naming)."""
    return Exchange(f"{source_service}.events", type="topic", durable=True, delivery_mode=PERSISTENT)


@dataclass(frozen=True)
class Subscription:
    source_service: str
    event_type: str
    consumer_service: str
    method: str

    @property
    def queue_name(self) -> str:
        # nameko's name for a service-pool event handler queue
        return f"evt-{self.source_service}-{self.event_type}--{self.consumer_service}.{self.method}"

    @property
    def parked_queue_name(self) -> str:
        return f"{self.queue_name}.parked"

    def retry_queue_name(self, delay_ms: int) -> str:
        return f"{self.queue_name}.retry.{delay_ms}"


@dataclass(frozen=True)
class SubscriptionQueues:
    main: Queue
    retries: tuple[Queue, ...]
    parked: Queue

    def all(self) -> tuple[Queue, ...]:
        return (self.parked, *self.retries, self.main)


def queues_for(
    sub: Subscription,
    retry_delays_ms: Iterable[int] = DEFAULT_RETRY_DELAYS_MS,
    quorum: bool = True,
    delivery_limit: int = DEFAULT_DELIVERY_LIMIT,
) -> SubscriptionQueues:
    dead_letter_to_parked = {
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": sub.parked_queue_name,
    }
    main_args = dict(dead_letter_to_parked)
    parked_args = {}
    if quorum:
        main_args.update({"x-queue-type": "quorum", "x-delivery-limit": delivery_limit})
        parked_args["x-queue-type"] = "quorum"
    main = Queue(
        sub.queue_name,
        exchange=events_exchange(sub.source_service),
        routing_key=sub.event_type,
        durable=True,
        auto_delete=False,
        queue_arguments=main_args,
    )
    retries = tuple(
        Queue(
            sub.retry_queue_name(delay),
            durable=True,
            auto_delete=False,
            queue_arguments={
                "x-message-ttl": int(delay),
                "x-dead-letter-exchange": "",
                "x-dead-letter-routing-key": sub.queue_name,
            },
        )
        for delay in retry_delays_ms
    )
    parked = Queue(sub.parked_queue_name, durable=True, auto_delete=False, queue_arguments=parked_args)
    return SubscriptionQueues(main=main, retries=retries, parked=parked)


def declare(amqp_uri: str, queue_sets: Iterable[SubscriptionQueues]) -> None:
    """Declare exchanges, queues and bindings (idempotent)."""
    with Connection(amqp_uri) as conn:
        channel = conn.channel()
        try:
            for queues in queue_sets:
                for queue in queues.all():
                    queue.bind(channel).declare()
        finally:
            channel.close()


def queue_depths(amqp_uri: str, names: Iterable[str]) -> dict[str, int | None]:
    """Messages ready in each queue (None where the queue does not exist)."""
    depths: dict[str, int | None] = {}
    with Connection(amqp_uri) as conn:
        for name in names:
            channel = conn.channel()
            try:
                _, count, _ = channel.queue_declare(queue=name, passive=True)
                depths[name] = count
            except Exception:  # amqp raises NotFound and closes the channel
                depths[name] = None
            finally:
                try:
                    channel.close()
                except Exception:
                    pass
    return depths
