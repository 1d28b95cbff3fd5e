"""RPC: replies without publisher confirms, requests dropped past their caller's deadline, the caller's context."""
from __future__ import annotations

import logging
import time

from nameko.amqp.publish import Publisher
from nameko.constants import AMQP_SSL_CONFIG_KEY, DEFAULT_SERIALIZER, LOGIN_METHOD_CONFIG_KEY, SERIALIZER_CONFIG_KEY
from nameko.extensions import DependencyProvider
from nameko import rpc as nameko_rpc

from ..events import Context
from .consumer import CALL_KEY, DEADLINE_HEADER, _QueueConsumer, amqp_uri

log = logging.getLogger(__package__)  # one logger for the kernel's nameko side


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


class ReplyListener(nameko_rpc.ReplyListener):
    """nameko's listener for RPC replies, on the kernel's consumer (see `_QueueConsumer`):
    for callers (`RpcProxy` subclasses) that must outlive the broker too."""

    queue_consumer = _QueueConsumer()


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
