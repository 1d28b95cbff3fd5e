"""RPC: replies without publisher confirms, requests dropped past their caller's deadline, the caller's context."""
from __future__ import annotations

import logging
import sys
import time

import kombu.serialization
from eventlet.semaphore import Semaphore
from kombu import Connection, Producer
from nameko import rpc as nameko_rpc
from nameko.constants import AMQP_SSL_CONFIG_KEY, LOGIN_METHOD_CONFIG_KEY
from nameko.exceptions import UnserializableValueError, serialize
from nameko.extensions import DependencyProvider

from ..events import Context
from ..topology import PERSISTENT
from .consumer import CALL_KEY, DEADLINE_HEADER, _QueueConsumer, amqp_uri, release_quietly

log = logging.getLogger(__package__)  # one logger for the kernel's nameko side


# Replies without publisher confirms: nameko waits for the broker to confirm
# each RPC reply before the worker ends. A reply goes to the caller's own reply
# queue, and nothing can resend it: if the broker lost it, the caller times out
# (the gateway answers 503) whether or not a confirm was awaited, and the
# command's effect is already committed or not. The confirm only cost a round
# trip and broker work per call; at 200 calls/s, dropping it took the members →
# mailer p50 from 10-12 ms to 9 ms (docs/benchmarks.md).
#
# And one kept producer for all the container's replies: nameko builds, per
# reply, a Responder, a Publisher, a kombu Connection object, takes a producer
# from kombu's pool and wraps the publish in kombu's retry machinery; that was
# ~0.25 ms of CPU a call, an eighth of the members service's (issue 7 item 9).
class ReplyPublisher:
    """Publishes RPC replies on one connection kept for the container.

    Worker greenthreads reply concurrently: a green lock keeps one message's
    frames together on the channel. On any error the connection is dropped
    and the reply tried once more on a fresh one (a connection kept across a
    broker restart is stale); if that fails too, the error is raised and the
    caller gives the reply up. Connecting does not wait between attempts:
    replies queued behind a dead broker must not wait seconds each.
    """

    def __init__(self, amqp_uri: str, ssl=None, login_method=None):
        self.amqp_uri, self.ssl, self.login_method = amqp_uri, ssl, login_method
        self._lock = Semaphore(1)
        self._connection: Connection | None = None
        self._producer: Producer | None = None

    def publish(self, payload, *, serializer: str, exchange, routing_key: str, correlation_id) -> None:
        with self._lock:
            try:
                self._publish(payload, serializer, exchange, routing_key, correlation_id)
            except Exception:
                self.close()
                self._publish(payload, serializer, exchange, routing_key, correlation_id)

    def _publish(self, payload, serializer, exchange, routing_key, correlation_id) -> None:
        try:
            if self._producer is None:
                connection = Connection(self.amqp_uri, ssl=self.ssl, login_method=self.login_method)
                self._connection = connection
                connection.ensure_connection(max_retries=1, interval_start=0, interval_step=0)
                self._producer = Producer(connection.channel())
            # What nameko's Publisher sends: persistent, no confirm, no retry loop.
            self._producer.publish(
                payload, serializer=serializer, exchange=exchange, routing_key=routing_key,
                correlation_id=correlation_id, delivery_mode=PERSISTENT, retry=False,
            )
        except Exception:
            self.close()
            raise

    def close(self) -> None:
        connection, self._connection, self._producer = self._connection, None, None
        release_quietly(connection)


def reply_payload(message, result, exc_info) -> tuple[dict, str, object, object]:
    """What nameko's Responder sends for `(result, exc_info)`:
    (payload, serializer, result, exc_info), the last two as the worker ends with them."""
    error = serialize(exc_info[1]) if exc_info is not None else None
    # Encoded the way the request was; a result that cannot be serialised is
    # answered as an error rather than killing the container.
    serializer = kombu.serialization.registry.type_to_name[message.properties["content_type"]]
    try:
        kombu.serialization.dumps(result, serializer)
    except Exception:
        exc_info = sys.exc_info()
        error = serialize(UnserializableValueError(result))
        result = None
    return {"result": result, "error": error}, serializer, result, exc_info


class _RpcConsumer(nameko_rpc.RpcConsumer):
    queue_consumer = _QueueConsumer()

    def setup(self):
        super().setup()
        config = self.container.config
        self.replies = ReplyPublisher(amqp_uri(config), ssl=config.get(AMQP_SSL_CONFIG_KEY),
                                      login_method=config.get(LOGIN_METHOD_CONFIG_KEY))
        self.reply_exchange = nameko_rpc.get_rpc_exchange(config)

    def stop(self):
        super().stop()
        self.replies.close()

    def kill(self):
        super().kill()
        self.replies.close()

    def handle_result(self, message, result, exc_info):
        payload, serializer, result, exc_info = reply_payload(message, result, exc_info)
        try:
            self.replies.publish(payload, serializer=serializer, exchange=self.reply_exchange,
                                 routing_key=message.properties["reply_to"],
                                 correlation_id=message.properties.get("correlation_id"))
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


class ReplyListener(nameko_rpc.ReplyListener):
    """nameko's listener for RPC replies, on the kernel's consumer (see `_QueueConsumer`):
    for callers (`RpcProxy` subclasses) that must outlive the broker too."""

    queue_consumer = _QueueConsumer()


class CallContext(DependencyProvider):
    """The caller's `Context` for an RPC worker: `self.context.actor_id`, ...

    The caller (the gateway) writes `actor_id`, `actor_roles` (comma-joined),
    `actor_federation` and `source` in its worker's context data, which nameko sends as headers with every call. The
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
            actor_roles=tuple(r for r in (data.get("actor_roles") or "").split(",") if r),
            actor_federation=data.get("actor_federation"),
        )
