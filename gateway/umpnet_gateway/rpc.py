"""Calling the services: RPC with a deadline, so a service that is down gives a 503, not a hung request."""
from __future__ import annotations

import eventlet
from nameko.rpc import RpcProxy

from umpnet_kernel.nameko import register_remote_errors

from .http import ServiceUnavailable

DEFAULT_TIMEOUT = 10.0


class Services:
    """`services.call("members", "register", data)` from a gateway worker."""

    def __init__(self, proxies: dict[str, object], context: dict, timeout: float = DEFAULT_TIMEOUT):
        self._proxies = proxies
        self.context = context
        self.timeout = timeout

    def call(self, service: str, method: str, *args, timeout: float | None = None, **kwargs):
        proxy = getattr(self._proxies[service], method)
        try:
            with eventlet.Timeout(timeout or self.timeout):
                return proxy(*args, **kwargs)
        except eventlet.Timeout:
            raise ServiceUnavailable(f"Le service {service} ne répond pas ; réessayez dans un instant.") from None


class ServiceProxies(RpcProxy):
    """One dependency giving the gateway's workers every service, with deadlines."""

    def __init__(self, *service_names: str):
        super().__init__(service_names[0])
        self.service_names = service_names

    def setup(self):
        # Domain errors raised by the services arrive as the kernel's types.
        register_remote_errors()
        super().setup()

    def get_dependency(self, worker_ctx):
        from nameko.rpc import ServiceProxy

        proxies = {
            name: ServiceProxy(worker_ctx, name, self.rpc_reply_listener, **self.options)
            for name in self.service_names
        }
        return Services(proxies, context={"correlation_id": worker_ctx.call_id})
