"""`subscribe`: durable, retried, parked event subscriptions (see the package docstring)."""
from __future__ import annotations

import logging

from marshmallow import Schema
from nameko.amqp.publish import Publisher
from nameko.messaging import Consumer

from ..messages import IncomingEvent, PermanentFailure
from ..topology import DEFAULT_DELIVERY_LIMIT, DEFAULT_RETRY_DELAYS_MS, Subscription, SubscriptionQueues, declare, queues_for
from .consumer import ATTEMPT_HEADER, _QueueConsumer, amqp_uri

log = logging.getLogger(__package__)  # one logger for the kernel's nameko side


class EventSubscriber(Consumer):
    """Handle `event_type` events of `source_service` (see the module docstring)."""

    queue_consumer = _QueueConsumer()

    def __init__(self, source_service: str, event_type: str, schema: Schema | None = None, **kwargs):
        self.source_service = source_service
        self.event_type = event_type
        self.schema = schema
        super().__init__(queue=None, requeue_on_error=False, **kwargs)

    def setup(self):
        config = self.container.config
        self.subscription = Subscription(
            self.source_service, self.event_type, self.container.service_name, self.method_name
        )
        self.queues = subscription_queues(self.subscription, config)
        declare(amqp_uri(config), [self.queues])
        self.queue = self.queues.main
        self.publisher = Publisher(amqp_uri(config), use_confirms=True)
        super().setup()

    def handle_message(self, body, message):
        try:
            incoming = IncomingEvent.from_envelope(body, self.schema)
        except PermanentFailure:
            log.error("parking a malformed message from %s", self.subscription.queue_name)
            self._park(message, lambda: self._forward(message, self.queues.parked, attempt=0))
            return
        # nameko's Consumer passes `body` as the only argument: give it the parsed event
        super().handle_message(incoming, message)

    def handle_message_processed(self, message, result=None, exc_info=None):
        if exc_info is None:
            self.queue_consumer.ack_message(message)
            return
        attempt = int((message.headers or {}).get(ATTEMPT_HEADER, 0)) + 1
        exc = exc_info[1]
        retries = self.queues.retries
        permanent = isinstance(exc, PermanentFailure)
        target = self.queues.parked if permanent or attempt > len(retries) else retries[attempt - 1]
        try:
            self._forward(message, target, attempt)
        except Exception:
            # Could not set it aside: give it back to the queue; the quorum
            # delivery limit parks it if this keeps happening.
            self.queue_consumer.requeue_message(message)
            return
        log.warning(
            "%s failed on %s (attempt %d, %s): %s",
            self.subscription.queue_name,
            getattr(message, "properties", {}).get("message_id"),
            attempt,
            "parked" if target is self.queues.parked else "will retry",
            f"{type(exc).__name__}: {exc}",
        )
        self.queue_consumer.ack_message(message)

    def handle_undecodable(self, message, exc):
        # Parked as it came (its raw bytes and content type), for an operator
        # to look at; its body may hold personal data, so it is never logged.
        log.error("parking an undecodable message from %s: %s", self.subscription.queue_name, type(exc).__name__)
        self._park(message, lambda: self._forward_raw(message, self.queues.parked))

    def _park(self, message, forward) -> None:
        try:
            forward()
        except Exception as exc:  # broker away: the delivery limit parks it if this goes on
            log.warning("could not park a message from %s: %s", self.subscription.queue_name, type(exc).__name__)
            self.queue_consumer.requeue_message(message)
            return
        self.queue_consumer.ack_message(message)

    def _forward_raw(self, message, queue) -> None:
        headers = dict(message.headers or {})
        headers[ATTEMPT_HEADER] = 0
        self.publisher.publish(
            message.body,
            exchange="",
            routing_key=queue.name,
            headers=headers,
            message_id=message.properties.get("message_id"),
            content_type=message.content_type or "application/octet-stream",
            content_encoding=message.content_encoding or "binary",
        )

    def _forward(self, message, queue, attempt: int) -> None:
        headers = dict(message.headers or {})
        headers[ATTEMPT_HEADER] = attempt
        self.publisher.publish(
            message.payload,
            exchange="",
            routing_key=queue.name,
            headers=headers,
            message_id=message.properties.get("message_id"),
        )


subscribe = EventSubscriber.decorator


def subscription_queues(subscription: Subscription, config: dict) -> SubscriptionQueues:
    """The queues of one subscription, as the service's config shapes them."""
    return queues_for(
        subscription,
        retry_delays_ms=config.get("EVENT_RETRY_DELAYS_MS", DEFAULT_RETRY_DELAYS_MS),
        quorum=config.get("EVENT_QUORUM_QUEUES", True),
        delivery_limit=config.get("EVENT_DELIVERY_LIMIT", DEFAULT_DELIVERY_LIMIT),
    )


def subscriptions_of(service_cls) -> list[Subscription]:
    """Every `@subscribe` of a service class, without starting it."""
    found = []
    for method_name in dir(service_cls):
        for entrypoint in getattr(getattr(service_cls, method_name), "nameko_entrypoints", ()):
            if isinstance(entrypoint, EventSubscriber):
                found.append(
                    Subscription(entrypoint.source_service, entrypoint.event_type, service_cls.name, method_name)
                )
    return found


def declare_subscriptions(service_cls, config: dict) -> list[SubscriptionQueues]:
    """Declare a service's subscription queues, so events published before it starts wait for it."""
    queue_sets = [subscription_queues(sub, config) for sub in subscriptions_of(service_cls)]
    declare(amqp_uri(config), queue_sets)
    return queue_sets
