"""`subscribe`: durable, retried, parked event subscriptions (see the package docstring)."""
from __future__ import annotations

import logging
import sys

from eventlet.event import Event
from eventlet.queue import Empty, LightQueue
from marshmallow import Schema
from nameko.amqp.publish import Publisher
from nameko.exceptions import ContainerBeingKilled
from nameko.messaging import Consumer

from ..messages import IncomingEvent, PermanentFailure
from ..topology import DEFAULT_DELIVERY_LIMIT, DEFAULT_RETRY_DELAYS_MS, Subscription, SubscriptionQueues, declare, queues_for
from .consumer import ATTEMPT_HEADER, _BatchQueueConsumer, _QueueConsumer, amqp_uri

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


DEFAULT_BATCH = 50  # messages in one batch at most


class BatchEventSubscriber(EventSubscriber):
    """`subscribe(..., batch=N)`: the handler takes a list of `IncomingEvent`s,
    the messages that are waiting (up to N), and handles them in one go,
    typically one transaction (`Application.execute_many`); they are then
    acked together, with one `multiple=True` ack where that is safe
    (`_BatchQueueConsumer.ack_many`).

    Guarantees, as the one-message subscriber's:
    - at least once: a message is acked only after its batch's handler
      returned; a process killed mid-batch leaves the whole batch unacked (and,
      in one transaction, uncommitted), so it is delivered again, whole;
    - one failing message never sinks the others: if a batch fails, its
      messages are handled again one by one (a batch of one each), and only
      those that fail again go to their retry queue, or are parked;
    - order: one batch at a time per subscription, in delivery order (the
      fallback too); while a batch runs the next one gathers. Retries, and
      several processes of a service, reorder as they do for single messages;
    - a malformed message is parked, as `subscribe` does;
    - a message that kills the process (not one that raises) is redelivered
      with its whole batch each time, so its batch-mates' delivery counts
      rise with its own: after the quorum queue's delivery limit (20) they
      are parked beside it, for an operator to replay, never dropped.

    Nothing waits for company: a batch is whatever has arrived when the
    previous one is done (one message at low rates).
    """

    queue_consumer = _BatchQueueConsumer()

    def __init__(self, source_service: str, event_type: str, schema: Schema | None = None,
                 batch: int = DEFAULT_BATCH, **kwargs):
        if batch < 1:
            raise ValueError("a batch holds at least one message")
        self.batch_size = batch
        super().__init__(source_service, event_type, schema, **kwargs)

    def setup(self):
        self._arrived = LightQueue()  # (body, message) in delivery order, not yet handled
        self._stopping = False
        super().setup()

    def start(self):
        self.container.spawn_managed_thread(self._handle_batches, identifier=f"{self.method_name} batches")

    def stop(self):
        # What has arrived and is not handled stays unacked: redelivered once
        # the consumer's connection closes.
        self._stopping = True
        super().stop()

    def receive(self, body, message) -> None:
        """Called by the queue consumer, in its thread, for each message in order: never blocks."""
        self._arrived.put((body, message))

    # -- the one greenthread that handles this subscription's batches ----------
    def _handle_batches(self):
        while True:
            arrived = [self._arrived.get()]
            while len(arrived) < self.batch_size:
                try:
                    arrived.append(self._arrived.get_nowait())
                except Empty:
                    break
            if self._stopping:
                continue  # left unacked, see stop()
            batch = []
            try:
                for body, message in arrived:
                    incoming = self._read(body, message)
                    if incoming is not None:
                        batch.append((incoming, message))
                if batch:
                    self._handle(batch)
            except ContainerBeingKilled:
                self._give_back(arrived)
                return
            except Exception:  # a bug here must not leave messages in hand for ever
                log.exception("%s: batch not handled, given back", self.subscription.queue_name)
                self._give_back(arrived)

    def _give_back(self, arrived) -> None:
        for _, message in arrived:
            if not message.acknowledged:  # acked, requeued or rejected already: settled
                self.queue_consumer.requeue_message(message)

    def _read(self, body, message):
        try:
            return IncomingEvent.from_envelope(body, self.schema)
        except PermanentFailure:
            log.error("parking a malformed message from %s", self.subscription.queue_name)
            self._park(message, lambda: self._forward(message, self.queues.parked, attempt=0))
            return None

    def _handle(self, batch) -> None:
        messages = [message for _, message in batch]
        if len(batch) == 1:
            self._run([batch[0][0]], lambda exc_info: self.handle_message_processed(messages[0], exc_info=exc_info))
            return
        failed = self._run([incoming for incoming, _ in batch], lambda exc_info: (
            self.queue_consumer.ack_many(messages) if exc_info is None else None
        ))
        if failed is None:
            return
        log.info("%s: a batch of %d failed (%s), handled again one by one",
                 self.subscription.queue_name, len(batch), type(failed[1]).__name__)
        for incoming, message in batch:
            if self._stopping:
                return  # the rest stays unacked, redelivered
            self._run([incoming], lambda exc_info, message=message: self.handle_message_processed(message, exc_info=exc_info))

    def _run(self, incomings, settle):
        """Run the handler on `incomings` in a nameko worker; `settle(exc_info)`
        acks (or retries) in the worker, before it ends; returns exc_info."""
        done = Event()

        def handle_result(worker_ctx, result=None, exc_info=None):
            try:
                settle(exc_info)
            finally:
                done.send(exc_info)
            return result, exc_info

        worker_ctx = self.container.spawn_worker(self, (incomings,), {}, context_data={}, handle_result=handle_result)
        thread = getattr(self.container, "_worker_threads", {}).get(worker_ctx)
        if thread is not None:  # a worker that dies before its result must not leave us waiting
            thread.link(lambda _thread: done.ready() or done.send(_ended_without_result()))
        return done.wait()


def _ended_without_result():
    try:
        raise RuntimeError("the worker ended without a result")
    except RuntimeError:
        return sys.exc_info()


def subscribe(source_service: str, event_type: str, schema: Schema | None = None, *, batch: int | None = None, **kwargs):
    """Decorate a handler of `event_type` events of `source_service`.

    Plain, the handler takes one `IncomingEvent`; with `batch=N`, a list of up
    to N (`BatchEventSubscriber`)."""
    if batch is None:
        return EventSubscriber.decorator(source_service, event_type, schema, **kwargs)
    return BatchEventSubscriber.decorator(source_service, event_type, schema, batch=batch, **kwargs)


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
