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
