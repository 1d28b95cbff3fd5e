"""A blocking call sent to the pool lets the service's other greenthreads run."""
import time

import eventlet

from umpnet_kernel.green import eventlet_is_patched, run_blocking


def test_a_blocking_call_in_the_pool_does_not_stop_other_greenthreads():
    assert eventlet_is_patched()  # the test run patches, as the services do
    unpatched_sleep = eventlet.patcher.original("time").sleep  # holds the OS thread, as argon2 does
    ticks = []

    def ticker():
        for _ in range(10):
            ticks.append(time.monotonic())
            eventlet.sleep(0.01)

    other = eventlet.spawn(ticker)
    eventlet.sleep(0)  # let it start
    started = time.monotonic()
    assert run_blocking(lambda seconds: unpatched_sleep(seconds) or "done", 0.2) == "done"
    finished = time.monotonic()
    other.wait()
    assert finished - started >= 0.2
    assert sum(started < t < finished for t in ticks) >= 5  # the ticker kept going meanwhile
