"""What every kernel entrypoint shares: the broker's address, remote errors, and a queue consumer that outlives the broker."""
from __future__ import annotations

import logging
from contextlib import contextmanager
from functools import partial

from nameko.constants import AMQP_URI_CONFIG_KEY
from nameko.exceptions import get_module_path, registry
from nameko.messaging import QueueConsumer

from .. import errors


log = logging.getLogger(__package__)  # one logger for the kernel's nameko side


ATTEMPT_HEADER = "x-umpnet-attempt"
# The caller's deadline for an RPC request, in epoch seconds (the gateway's).
DEADLINE_HEADER = "x-umpnet-deadline"
# Where an RPC worker's context data holds its request's correlation id.
CALL_KEY = "umpnet.call_key"
RECONNECT_INTERVAL_MAX = 5.0  # seconds between attempts to reach the broker again


def register_remote_errors() -> None:
    """Let nameko rebuild kernel domain errors at the caller instead of RemoteError."""
    from ..paging import BadCursor, BadLimit  # a list's refusals, raised by any service's list query

    for exc_type in (*errors.ALL_ERRORS, BadCursor, BadLimit):
        registry[get_module_path(exc_type)] = exc_type


def amqp_uri(config: dict) -> str:
    return config.get(AMQP_URI_CONFIG_KEY) or "amqp://guest:guest@localhost:5672/"


def release_quietly(connection) -> None:
    """Release a kombu connection that may already be broken (closing must not raise)."""
    if connection is not None:
        try:
            connection.release()
        except Exception:  # already broken: nothing to release
            pass


class _Stopping(Exception):
    """Ends a consumer's attempts to reach the broker when its container is killed."""


class _QueueConsumer(QueueConsumer):
    """nameko's consumer of the kernel's queues, made to outlive the broker.

    - An ack or requeue on a connection that just died is given up, whatever
      the error (nameko lets socket errors escape, which kills the worker's
      thread and with it the container): the broker redelivers the message.
    - Reconnection attempts are at most `RECONNECT_INTERVAL_MAX` seconds apart
      (kombu's default grows to 30 s), so a service serves again soon after
      the broker is back; and they end when the container is stopped or
      killed (kombu's retry loop never looks at `should_stop`, and nameko
      cancels consumers only when connected: stop() and kill() waited for the broker).
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

    def run(self, *args, **kwargs):
        try:
            super().run(*args, **kwargs)
        except _Stopping:
            pass

    @contextmanager
    def establish_connection(self):
        with self.create_connection() as conn:
            conn.ensure_connection(
                self.on_connection_error,
                self.connect_max_retries,
                interval_start=1,
                interval_step=1,
                interval_max=RECONNECT_INTERVAL_MAX,
                callback=self._unless_stopping,  # called every second between attempts
            )
            yield conn

    def _unless_stopping(self):
        # Between attempts to reconnect there is no consumer to cancel: let a
        # stop() that waits for its entrypoints to be removed go on now.
        pending, self._pending_remove_providers = self._pending_remove_providers, {}
        for provider, removed in pending.items():
            self._consumers.pop(provider, None)
            removed.send()
        if self.should_stop or (pending and not self._consumers):
            raise _Stopping()

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


class _BatchQueueConsumer(_QueueConsumer):
    """The queue consumer of batch subscriptions (`subscribe(..., batch=N)`):
    its own connection and channel, a prefetch of twice the largest batch (one
    batch handled while the next gathers), and acks of many messages at once.

    Messages are handed to their entrypoint's `receive(body, message)` in the
    consumer's own thread, in delivery order (nameko spawns a greenthread per
    message, which costs a spawn each and does not keep the order).

    `ack_many(messages)` sends one `basic_ack(multiple=True)` for the highest
    delivery tag of a channel's messages, but only when every message
    delivered on that channel up to that tag and not yet settled is among
    them: a multiple ack covers every earlier tag, and must never take a
    message of another batch or subscription still in hand (it would be lost
    in a crash) nor one already acked (the broker would close the channel).
    Otherwise, each is acked alone. Every delivered tag is tracked here until
    acked or requeued, so this is decided from what is really outstanding.
    """

    def __init__(self):
        super().__init__()
        self._unsettled: dict = {}  # channel -> delivery tags delivered, not yet acked or requeued

    @property
    def prefetch_count(self):
        return max([self.container.max_workers, *(2 * getattr(p, "batch_size", 0) for p in self._providers)])

    def get_consumers(self, consumer_cls, channel):
        self._unsettled = {}  # a new channel: the old one's tags mean nothing now
        return super().get_consumers(consumer_cls, channel)

    def handle_message(self, provider, body, message):
        self._track(message)
        provider.receive(body, message)

    def _undecodable(self, provider, message, exc):
        self._track(message)
        super()._undecodable(provider, message, exc)

    def _track(self, message) -> None:
        self._unsettled.setdefault(message.channel, set()).add(message.delivery_tag)

    def _untrack(self, message) -> None:
        self._unsettled.get(message.channel, set()).discard(message.delivery_tag)

    def ack_message(self, message):
        self._untrack(message)
        super().ack_message(message)

    def requeue_message(self, message):
        self._untrack(message)
        super().requeue_message(message)

    def ack_many(self, messages) -> None:
        by_channel: dict = {}
        for message in messages:
            by_channel.setdefault(message.channel, []).append(message)
        for channel, group in by_channel.items():
            unsettled = self._unsettled.get(channel, set())
            top = max(group, key=lambda m: m.delivery_tag)
            tags = {m.delivery_tag for m in group}
            covered = {tag for tag in unsettled if tag <= top.delivery_tag}
            if len(group) == 1 or not covered <= tags or not channel.connection:
                for message in group:
                    self.ack_message(message)
                continue
            for message in group:
                unsettled.discard(message.delivery_tag)
            try:
                top.ack(multiple=True)
            except Exception as exc:
                log.warning("ack not sent, the broker will redeliver: %s", type(exc).__name__)
            for message in group:
                message._state = "ACK"  # kombu's own mark: acked (by the multiple ack)
