"""Calling the services: RPC with a deadline, so a service or a broker that is down gives a 503, not a hung request.

Each request carries its deadline twice: as the message's AMQP `expiration`,
so the broker drops it if nobody takes it in time, and as an absolute
`DEADLINE_HEADER`, so a service that takes it late drops it too (the kernel's
`rpc`). A request the gateway answered 503 for must never take effect later.

`services.context` is the worker's context data: what the gateway writes in it
(`actor_id`, `source`) travels with every call as nameko headers, and the
services read it with the kernel's `CallContext`.
"""
from __future__ import annotations

import logging
import socket
import time

import amqp.exceptions
import eventlet
import kombu.exceptions
from kombu import Connection
from nameko.exceptions import UnknownService
from nameko.rpc import MethodProxy, RpcProxy

from umpnet_kernel.errors import DomainError
from umpnet_kernel.nameko import DEADLINE_HEADER, ReplyListener, amqp_uri, register_remote_errors

from .errors import ServiceUnavailable
from .messages_fr import in_french

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0
RETRY_AFTER = 5  # seconds: what a 503 tells the client to wait

# What a lost or refused broker connection raises on the way (sockets, kombu, py-amqp),
# and a service whose queue does not exist yet (never started).
BROKER_ERRORS = (
    OSError,
    kombu.exceptions.OperationalError,
    kombu.exceptions.ConnectionError,
    amqp.exceptions.ConnectionError,
    amqp.exceptions.ChannelError,
    UnknownService,
)


def unavailable(service: str) -> ServiceUnavailable:
    error = ServiceUnavailable(f"Le service {service} ne répond pas ; réessayez dans un instant.")
    error.retry_after = RETRY_AFTER  # the error response sends it as Retry-After
    return error


TRANSIENT = 1  # AMQP delivery mode


class Services:
    """`services.call("members", "register", data)` from a gateway worker."""

    def __init__(self, worker_ctx, reply_listener, options: dict, timeout: float = DEFAULT_TIMEOUT):
        self._worker_ctx = worker_ctx
        self._reply_listener = reply_listener
        self._options = options
        self.context = worker_ctx.data  # sent with every call (nameko headers)
        self.timeout = timeout

    @property
    def container(self):
        """The gateway's container: where auth.py finds the sessions this process keeps."""
        return self._worker_ctx.container

    def call(self, service: str, method: str, *args, timeout: float | None = None, **kwargs):
        timeout = timeout or self.timeout
        proxy = MethodProxy(
            self._worker_ctx,
            service,
            method,
            self._reply_listener,
            expiration=timeout,  # seconds (kombu makes it the AMQP per-message TTL)
            headers={DEADLINE_HEADER: time.time() + timeout},
            # Transient: a request that lives 10 s at most need not outlive a
            # broker restart (its caller has had a 503 by then), and one that
            # carries a password is then never written to RabbitMQ's disk.
            delivery_mode=TRANSIENT,
            **self._options,
        )
        timer = eventlet.Timeout(timeout)
        reply = None
        try:
            reply = proxy.call_async(*args, **kwargs)
            return reply.result()
        except DomainError as refused:  # the kernel's English messages reach users in French
            raise in_french(refused)
        except eventlet.Timeout as expired:
            if expired is not timer:
                raise
            self._forget(reply)
            raise unavailable(service) from None
        except BROKER_ERRORS as exc:
            log.warning("call to %s.%s failed: %s", service, method, type(exc).__name__)
            self._forget(reply)
            raise unavailable(service) from None
        finally:
            timer.cancel()

    def _forget(self, reply) -> None:
        # A reply that will never come (the request expired) would keep its
        # waiting event in the listener for ever.
        if reply is None:
            return
        events = self._reply_listener._reply_events
        for correlation_id, event in list(events.items()):
            if event is reply.reply_event:
                events.pop(correlation_id, None)

    def broker_status(self, timeout: float = 0.8) -> str:
        """"ok" if the broker accepts a connection within `timeout` seconds, else "unavailable"."""
        connection = Connection(amqp_uri(self._worker_ctx.config), connect_timeout=timeout)
        try:
            with eventlet.Timeout(timeout):
                connection.ensure_connection(max_retries=1)
            return "ok"
        except (eventlet.Timeout, socket.timeout, *BROKER_ERRORS):
            return "unavailable"
        finally:
            try:
                connection.release()
            except Exception:
                pass


class ServiceProxies(RpcProxy):
    """One dependency giving the gateway's workers every service, with deadlines."""

    rpc_reply_listener = ReplyListener()  # reconnects, and lets the gateway be killed, while the broker is away

    def __init__(self, *service_names: str):
        super().__init__(service_names[0])
        self.service_names = service_names

    def setup(self):
        # Domain errors raised by the services (a list's BadCursor and BadLimit too) arrive as the kernel's types.
        register_remote_errors()
        super().setup()

    def get_dependency(self, worker_ctx):
        return Services(worker_ctx, self.rpc_reply_listener, self.options)
