"""The kernel's nameko side: the only module of the kernel that imports nameko.

- `EventSourcing`: a dependency provider giving workers the service's
  `Application`, and running its outbox relay in a managed greenthread; the
  relay publishes each batch on one confirm-mode channel and waits for the
  broker's confirms once (`BatchPublisher`).
- `subscribe(source_service, event_type, schema=None)`: an event handler
  entrypoint that does what nameko's own `event_handler` does not:
  * its queue is durable, a quorum queue, declared with its retry and parking
    queues (nameko acks and *drops* a message whose handler raised);
  * a failed message is retried after a delay, then parked, and never blocks
    the messages behind it;
  * a message that cannot be decoded is parked as it came, its body never logged;
  * handlers receive an `IncomingEvent` and must be idempotent (see
    `UnitOfWork.first_delivery`), since delivery is at least once and up to
    `max_workers` messages are handled concurrently, so out of order.
- `rpc`: nameko's RPC entrypoint, replying without a publisher confirm, and
  dropping a request whose caller's deadline (`DEADLINE_HEADER`) has passed.
- `CallContext`: the caller's `Context` for an RPC worker (actor, source,
  correlation id, and the request's id as idempotency key).
- No entrypoint lets a lost broker kill its container: a reply, ack or park
  that cannot be sent is given up (the broker redelivers), and the consumer
  reconnects every few seconds until the broker is back.
- `register_remote_errors()`: domain errors raised by a service arrive as the
  same kernel exception types at the RPC caller.
"""
from __future__ import annotations

import logging
import socket
import time
from contextlib import contextmanager
from functools import partial
from typing import Callable, Sequence

import eventlet
from eventlet.queue import Empty, LightQueue
from kombu import Connection, Exchange, Producer
from marshmallow import Schema
from nameko.amqp.publish import Publisher
from nameko.constants import (
    AMQP_SSL_CONFIG_KEY,
    AMQP_URI_CONFIG_KEY,
    DEFAULT_SERIALIZER,
    LOGIN_METHOD_CONFIG_KEY,
    SERIALIZER_CONFIG_KEY,
)
from nameko.exceptions import get_module_path, registry
from nameko.extensions import DependencyProvider
from nameko.messaging import Consumer, QueueConsumer
from nameko import rpc as nameko_rpc

from . import errors
from .application import Application
from .database import Database, url_for_service
from .events import Context
from .messages import IncomingEvent, PermanentFailure
from .relay import NotConfirmed, OutboxRelay
from .topology import (
    DEFAULT_DELIVERY_LIMIT,
    DEFAULT_RETRY_DELAYS_MS,
    PERSISTENT,
    Subscription,
    SubscriptionQueues,
    declare,
    events_exchange,
    queues_for,
)

log = logging.getLogger(__name__)

ATTEMPT_HEADER = "x-umpnet-attempt"
# The caller's deadline for an RPC request, in epoch seconds (the gateway's).
DEADLINE_HEADER = "x-umpnet-deadline"
# Where an RPC worker's context data holds its request's correlation id.
CALL_KEY = "umpnet.call_key"
RECONNECT_INTERVAL_MAX = 5.0  # seconds between attempts to reach the broker again


def register_remote_errors() -> None:
    """Let nameko rebuild kernel domain errors at the caller instead of RemoteError."""
    for exc_type in errors.ALL_ERRORS:
        registry[get_module_path(exc_type)] = exc_type


def amqp_uri(config: dict) -> str:
    return config.get(AMQP_URI_CONFIG_KEY) or "amqp://guest:guest@localhost:5672/"


class _QueueConsumer(QueueConsumer):
    """nameko's consumer of the kernel's queues, made to outlive the broker.

    - An ack or requeue on a connection that just died is given up, whatever
      the error (nameko lets socket errors escape, which kills the worker's
      thread and with it the container): the broker redelivers the message.
    - Reconnection attempts are at most `RECONNECT_INTERVAL_MAX` seconds apart
      (kombu's default grows to 30 s), so a service serves again soon after
      the broker is back.
    - A message that cannot be decoded (invalid JSON, a content type not
      accepted) goes to its entrypoint's `handle_undecodable(message, exc)`,
      where kombu would log its raw body and drop it.
    """

    def ack_message(self, message):
        try:
            super().ack_message(message)
        except Exception as exc:
            log.warning("ack not sent, the broker will redeliver: %s", type(exc).__name__)

    def requeue_message(self, message):
        try:
            super().requeue_message(message)
        except Exception as exc:
            log.warning("requeue not sent, the broker will redeliver: %s", type(exc).__name__)

    @contextmanager
    def establish_connection(self):
        with self.create_connection() as conn:
            conn.ensure_connection(
                self.on_connection_error,
                self.connect_max_retries,
                interval_start=1,
                interval_step=1,
                interval_max=RECONNECT_INTERVAL_MAX,
            )
            yield conn

    def get_consumers(self, consumer_cls, channel):
        consumers = super().get_consumers(consumer_cls, channel)
        for provider, consumer in self._consumers.items():
            consumer.on_decode_error = partial(self._undecodable, provider)
        return consumers

    def _undecodable(self, provider, message, exc):
        # Called in the consumer's own thread: hand the message over, never raise.
        handle = getattr(provider, "handle_undecodable", None)
        if handle is None:
            log.warning("dropping an undecodable message: %s", type(exc).__name__)
            self.ack_message(message)
            return
        self.container.spawn_managed_thread(partial(handle, message, exc), identifier="handle_undecodable")


# -- RPC -----------------------------------------------------------------------
# Replies without publisher confirms: nameko waits for the broker to confirm
# each RPC reply before the worker ends. A reply goes to the caller's own reply
# queue, and nothing can resend it: if the broker lost it, the caller times out
# (the gateway answers 503) whether or not a confirm was awaited, and the
# command's effect is already committed or not. The confirm only cost a round
# trip and broker work per call; at 200 calls/s, dropping it took the members →
# mailer p50 from 10-12 ms to 9 ms (docs/benchmarks.md).
class _UnconfirmedReplyPublisher(Publisher):
    use_confirms = False


class _Responder(nameko_rpc.Responder):
    publisher_cls = _UnconfirmedReplyPublisher


class _RpcConsumer(nameko_rpc.RpcConsumer):
    queue_consumer = _QueueConsumer()

    def handle_result(self, message, result, exc_info):
        config = self.container.config
        responder = _Responder(
            amqp_uri(config),
            nameko_rpc.get_rpc_exchange(config),
            config.get(SERIALIZER_CONFIG_KEY, DEFAULT_SERIALIZER),
            message,
            ssl=config.get(AMQP_SSL_CONFIG_KEY),
            login_method=config.get(LOGIN_METHOD_CONFIG_KEY),
        )
        try:
            result, exc_info = responder.send_response(result, exc_info)
        except Exception as exc:
            # The broker went away (a restart): nameko would let this kill the
            # container. The work is done; the caller times out, or gets its
            # answer from a redelivery (the request's idempotency key).
            log.warning("RPC reply not sent: %s", type(exc).__name__)
        self.queue_consumer.ack_message(message)
        return result, exc_info

    def handle_undecodable(self, message, exc):
        # Nobody can read it, so nobody can be answered: the caller times out.
        log.warning("dropping an undecodable RPC request: %s", type(exc).__name__)
        self.queue_consumer.ack_message(message)


def _past_deadline(message) -> bool:
    deadline = (message.headers or {}).get(DEADLINE_HEADER)
    try:
        return deadline is not None and time.time() > float(deadline)
    except (TypeError, ValueError):  # not a number: not a deadline we set
        return False


class Rpc(nameko_rpc.Rpc):
    """nameko's `@rpc`, replying without a publisher confirm (see above), that
    drops a request whose caller has given up (its `DEADLINE_HEADER` is past)
    and gives the worker the request's correlation id as `CALL_KEY`.
    A service uses this one or nameko's, never both: they share its queue."""

    rpc_consumer = _RpcConsumer()

    def handle_message(self, body, message):
        if _past_deadline(message):
            # Its caller answered "try again": running it now would do what
            # the caller was told had failed (a "ghost" sign-up).
            log.warning("dropping an RPC request past its caller's deadline")
            self.rpc_consumer.queue_consumer.ack_message(message)
            return
        super().handle_message(body, message)

    def unpack_message_headers(self, message):
        data = super().unpack_message_headers(message)
        data.pop(DEADLINE_HEADER, None)  # this call's, not to be passed on to the calls it makes
        call_key = message.properties.get("correlation_id")
        if call_key is not None:
            data[CALL_KEY] = call_key
        return data


rpc = Rpc.decorator


class CallContext(DependencyProvider):
    """The caller's `Context` for an RPC worker: `self.context.actor_id`, ...

    The caller (the gateway) writes `actor_id` and `source` in its worker's
    context data, which nameko sends as headers with every call. The
    correlation id is the id of the call that started the chain; the
    idempotency key is the request message's correlation id, which a
    redelivery of the same request keeps.
    """

    def get_dependency(self, worker_ctx):
        data = worker_ctx.data
        return Context(
            actor_id=data.get("actor_id"),
            correlation_id=worker_ctx.origin_call_id or worker_ctx.call_id,
            source=data.get("source"),
            idempotency_key=data.get(CALL_KEY),
        )


class BatchPublisher:
    """Publishes batches of events to one exchange, confirmed by the broker.

    The messages of a batch are written one after the other on a channel in
    confirm mode, then the broker's acks are awaited once: one round trip per
    batch, where nameko's `Publisher` waits for each message in turn. The
    messages are the ones nameko's `Publisher` would send (JSON, persistent,
    `message_id` and an `event_type` header). Used by one greenthread at a
    time (the relay's); the connection is opened on first use and dropped on
    any error, to be opened afresh by the next batch.
    """

    def __init__(self, amqp_uri: str, exchange: Exchange, confirm_timeout: float = 30.0):
        self.amqp_uri = amqp_uri
        self.exchange = exchange
        self.confirm_timeout = confirm_timeout
        self._connection: Connection | None = None
        self._producer: Producer | None = None
        self._tag = 0  # delivery tag of the last message published on the channel
        self._pending: set[int] = set()  # published, neither acked nor nacked yet
        self._nacked: set[int] = set()

    def publish_many(self, messages: Sequence[tuple[str, dict]]) -> None:
        """Publish `(event_type, body)` messages in order; raise `NotConfirmed`
        (with the cause) unless the broker confirmed every one of them."""
        reused = self._producer is not None
        try:
            self._publish_confirmed(messages)
        except NotConfirmed as exc:
            if not reused:
                raise
            # The connection kept since the last batch may have gone stale (a
            # broker restart): once, go on from the first unconfirmed message
            # on a fresh one, as nameko's own publisher retries.
            try:
                self._publish_confirmed(messages[exc.confirmed:])
            except NotConfirmed as again:
                raise NotConfirmed(exc.confirmed + again.confirmed) from again.__cause__

    def _publish_confirmed(self, messages: Sequence[tuple[str, dict]]) -> None:
        if not messages:
            return
        self._pending, self._nacked = set(), set()
        first = None
        try:
            producer = self._connected()
            first = self._tag + 1
            for event_type, body in messages:
                producer.publish(
                    body,
                    routing_key=event_type,
                    message_id=body["event_id"],
                    headers={"event_type": event_type},
                    delivery_mode=PERSISTENT,
                    serializer="json",
                    retry=False,
                )
                self._tag += 1
                self._pending.add(self._tag)
            deadline = time.monotonic() + self.confirm_timeout
            while self._pending:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError("the broker did not confirm in time")
                try:
                    self._connection.drain_events(timeout=remaining)
                except socket.timeout:
                    pass
            if self._nacked:
                raise RuntimeError("the broker refused (nacked) a message")
        except Exception as exc:
            confirmed = 0
            if first is not None:  # the first `confirmed` messages have all been acked
                unconfirmed = self._pending | self._nacked
                confirmed = (min(unconfirmed) if unconfirmed else self._tag + 1) - first
            self.close()
            raise NotConfirmed(confirmed) from exc

    def close(self) -> None:
        connection, self._connection, self._producer = self._connection, None, None
        if connection is not None:
            try:
                connection.release()
            except Exception:  # already broken: nothing to release
                pass

    def _connected(self) -> Producer:
        if self._producer is None:
            connection = Connection(self.amqp_uri)
            try:
                channel = connection.channel()
                channel.confirm_select()
                channel.events["basic_ack"].add(self._on_ack)
                channel.events["basic_nack"].add(self._on_nack)
                producer = Producer(channel, exchange=self.exchange, auto_declare=True)
            except Exception:
                connection.release()
                raise
            self._connection, self._producer, self._tag = connection, producer, 0
        return self._producer

    def _settle(self, delivery_tag: int, multiple: bool) -> set[int]:
        if multiple:
            settled = {tag for tag in self._pending if tag <= delivery_tag}
        else:
            settled = {delivery_tag} & self._pending
        self._pending -= settled
        return settled

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        self._settle(delivery_tag, multiple)

    def _on_nack(self, delivery_tag: int, multiple: bool) -> None:
        self._nacked |= self._settle(delivery_tag, multiple)


class EventSourcing(DependencyProvider):
    """The service's `Application`, plus the relay that publishes its events.

    `build(db, config)` returns the service's Application (subclass). The database
    URL is `DATABASE_URL` from the config, else `<SERVICE>_DATABASE_URL`, else
    SQLite under `$DATA_DIR`.
    """

    def __init__(self, build: Callable[[Database, dict], Application], poll_interval: float = 1.0):
        self.build = build
        self.poll_interval = poll_interval

    def setup(self):
        register_remote_errors()
        config = self.container.config
        service = self.container.service_name
        self.db = Database(config.get("DATABASE_URL") or url_for_service(service))
        self.app = self.build(self.db, config)
        self.exchange = events_exchange(service)
        self.publisher = BatchPublisher(amqp_uri(config), self.exchange)
        self.relay = OutboxRelay(self.db, publish_many=self.publisher.publish_many)
        self.app.relay = self.relay
        self._wakeup: LightQueue = LightQueue(maxsize=1)
        self.app.on_commit(self._on_commit)
        self._running = False

    def start(self):
        self._running = True
        self._thread = self.container.spawn_managed_thread(self._relay_forever)

    def stop(self):
        self._running = False
        self._wake()
        self._thread.wait()
        try:
            self.relay.save_cursor()  # what was published need not be published again
        except Exception as exc:  # the next start publishes it again: at least once
            log.warning("outbox cursor not saved at stop: %s", type(exc).__name__)
        self.publisher.close()
        self.db.dispose()

    def kill(self):
        self._running = False
        self.publisher.close()
        self.db.dispose()

    def get_dependency(self, worker_ctx):
        return self.app

    def _wake(self, recorded=None):
        try:
            self._wakeup.put_nowait(True)
        except eventlet.queue.Full:
            pass  # a wake-up is already pending: it will see these events too

    def _on_commit(self, recorded):
        # Private events are never published: the timer moves the cursor past
        # them, rather than a read of the store after every such commit.
        if any(r.event.public for r in recorded):
            self._wake()
        # Let the relay (and whoever else is ready) run now. SQLite calls never
        # yield, so a greenthread that commits again and again (the mailer's
        # postman, an import) would otherwise hold back every event it
        # committed, and every message waiting to be consumed, until it is done.
        eventlet.sleep(0)

    def _relay_forever(self):
        backoff = self.poll_interval
        while self._running:
            try:
                self.relay.publish_pending()
                backoff = self.poll_interval
            except Exception as exc:  # broker or database away: keep the order, try later
                log.warning("outbox relay paused: %s", type(exc).__name__)
                backoff = min(backoff * 2, 30.0)
            try:
                self._wakeup.get(timeout=backoff)
            except Empty:
                pass


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


class Operations:
    """RPC methods every service offers to operators (`umpnet status`, `umpnet rebuild`).

    Mix into a service class that has an `EventSourcing` dependency named `app`.
    """

    @rpc
    def health(self):
        return {"service": self.name, "status": "ok"}

    @rpc
    def status(self):
        return {"service": self.name, "outbox": self.app.relay.lag() if self.app.relay else None}

    @rpc
    def rebuild_read_models(self):
        started = time.perf_counter()
        count = self.app.rebuild_read_models()
        return {"service": self.name, "events": count, "seconds": round(time.perf_counter() - started, 3)}


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
