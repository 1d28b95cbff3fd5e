"""Calls that block the OS thread, under eventlet.

A service is one OS thread running many greenthreads: a call that holds that
thread (hashing a password, an fsync) stops every other request, message and
relay batch of the service for as long as it takes. Such calls go to eventlet's
thread pool, and the calling greenthread waits there alone.
"""
from __future__ import annotations

import sys
from typing import Callable, TypeVar

T = TypeVar("T")


def eventlet_is_patched() -> bool:
    eventlet = sys.modules.get("eventlet")  # not imported means not patched
    return eventlet is not None and eventlet.patcher.is_monkey_patched("socket")


def run_blocking(call: Callable[..., T], *args) -> T:
    """`call(*args)` in eventlet's thread pool when eventlet is live, else here.

    Only for calls that release the GIL while they work (C code: argon2, file
    I/O); a pure-Python call would gain nothing and pay the trip (~85 µs).
    """
    if eventlet_is_patched():
        from eventlet import tpool

        return tpool.execute(call, *args)
    return call(*args)


class BoundedBlocking:
    """`run_blocking`, with at most `limit` calls in the pool at once; the
    others wait their turn (a green semaphore: waiting blocks no one else).

    For CPU-bound calls (argon2): more of them at once than there are cores
    only makes every one of them late.
    """

    def __init__(self, limit: int):
        self.limit = limit
        self._semaphore = None  # made on first use, once eventlet is patched

    def run(self, call: Callable[..., T], *args) -> T:
        if not eventlet_is_patched():
            return call(*args)
        if self._semaphore is None:
            from eventlet.semaphore import Semaphore

            self._semaphore = Semaphore(self.limit)
        with self._semaphore:
            return run_blocking(call, *args)
