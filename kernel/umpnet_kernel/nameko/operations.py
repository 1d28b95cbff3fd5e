"""The RPC methods every service offers to operators (`umpnet status`, `umpnet rebuild`)."""
from __future__ import annotations

import time

from .provider import OutboxStatus
from .rpc import rpc


class Operations:
    """RPC methods every service offers to operators (`umpnet status`, `umpnet rebuild`).

    Mix into a service class that has an `EventSourcing` dependency named `app`.
    """

    outbox_lag = OutboxStatus()

    @rpc
    def health(self):
        return {"service": self.name, "status": "ok"}

    @rpc
    def status(self):
        return {"service": self.name, "outbox": self.outbox_lag()}

    @rpc
    def rebuild_read_models(self):
        started = time.perf_counter()
        count = self.app.rebuild_read_models()
        return {"service": self.name, "events": count, "seconds": round(time.perf_counter() - started, 3)}
