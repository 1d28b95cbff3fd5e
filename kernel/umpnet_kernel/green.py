"""Calls that block the OS thread, under eventlet.

A service is one OS thread running many greenthreads: a call that holds that
thread (hashing a password, an fsync) stops every other request, message and
relay batch of the service for as long as it takes. Such calls go to eventlet's
thread pool, and the calling greenthread waits there alone.

A pool thread that has finished needs the GIL back to hand its result over,
and CPython lets the hub's thread keep the GIL for the whole switch interval
(5 ms) before it must give it up: while the service is busy, every commit in
the pool waited ~5 ms for nothing. `hand_over_quickly()` shortens that wait.
"""
from __future__ import annotations

import sys
from typing import Callable, TypeVar

T = TypeVar("T")


def eventlet_is_patched() -> bool:
    eventlet = sys.modules.get("eventlet")  # not imported means not patched
    return eventlet is not None and eventlet.patcher.is_monkey_patched("socket")


# Seconds the thread holding the GIL may keep it once another asks for it.
# The only other threads of a service are the pool's, and they ask only when
# a call has finished: shorter costs a few switches, and saves each pool trip
# up to 5 ms of waiting on a busy service (docs/benchmarks.md, event latency).
POOL_SWITCH_INTERVAL = 0.0005


def hand_over_quickly() -> None:
    """Let a finished pool call have the GIL back within `POOL_SWITCH_INTERVAL`
    (process-wide; called as a service starts, never shortened further)."""
    sys.setswitchinterval(min(sys.getswitchinterval(), POOL_SWITCH_INTERVAL))


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
