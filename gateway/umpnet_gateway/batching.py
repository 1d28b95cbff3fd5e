"""Gathering requests into one call: how the gateway signs 1,000 petitions a second.

One RPC per HTTP request tops out near 500 a second on a 2-core machine (each
call is a message each way and a worker on both sides). A `Gatherer` lets the
requests of a few milliseconds share one call instead: the first request that
finds no open batch leads one, waits up to `wait` seconds (or until `size`
requests joined), makes the call with the whole batch, and hands each request
its own answer. Its followers just wait.

At most `in_flight` calls are out at once: while they are, the next batch goes
on gathering (up to `size`) until one comes back. Alone, a request waits `wait`
and no more; under load the batches grow with the service's answer time instead
of many small calls each paying a call's fixed cost (the RPC both ways, a
transaction, a relay run) for a few requests. Nothing is held in the gateway that a
crash could lose: every request waits for its answer, which comes only once the
service committed the batch, so a 202 still means "durably stored".

The service answers one item per request, `{"ok": answer}` or `{"error":
{type, message, fields, retry_after?}}`: a refused request is raised here as
the domain error it was, so the HTTP answer is what a call of its own would give.
"""
from __future__ import annotations

import eventlet
from eventlet.event import Event
from eventlet.semaphore import Semaphore

from umpnet_kernel import errors

_ERRORS = {cls.__name__: cls for cls in (errors.ValidationFailed, errors.Unauthorized, errors.Forbidden,
                                         errors.NotFound, errors.Conflict, errors.RateLimited)}


def raised(refusal: dict) -> errors.DomainError:
    cls = _ERRORS.get(refusal.get("type"), errors.DomainError)
    if cls is errors.RateLimited:
        return cls(refusal["message"], refusal.get("fields") or None, retry_after=refusal.get("retry_after"))
    return cls(refusal["message"], refusal.get("fields") or None)


class _Batch:
    def __init__(self):
        self.items: list = []
        self.full = Event()  # the leader stops waiting when it is sent
        self.answered = Event()  # the answers (a list), or the call's exception


class Gatherer:
    """`gatherer.call(services, item)`: `item`'s answer from `service.method([items...])`."""

    def __init__(self, service: str, method: str, size: int = 50, wait: float = 0.002, in_flight: int = 2):
        self.service, self.method, self.size, self.wait = service, method, size, wait
        self._open: _Batch | None = None
        self._calls = Semaphore(in_flight)  # a batch leaves only with a free slot

    def call(self, services, item):
        batch, leader = self._open, False
        if batch is None:
            batch, leader = _Batch(), True
            self._open = batch
        index = len(batch.items)
        batch.items.append(item)
        if len(batch.items) >= self.size:
            self._close(batch)
        if leader:
            self._lead(services, batch)
        answer = batch.answered.wait()
        return self._unpacked(answer[index])

    def _close(self, batch: _Batch) -> None:
        if self._open is batch:
            self._open = None
        if not batch.full.ready():
            batch.full.send(True)

    def _lead(self, services, batch: _Batch) -> None:
        with eventlet.Timeout(self.wait, False):
            batch.full.wait()
        try:
            with self._calls:  # waiting for a slot, the batch still takes newcomers (up to `size`)
                self._close(batch)
                answers = services.call(self.service, self.method, batch.items)
        except BaseException as exc:  # every request of the batch gets the call's failure (a 503...)
            self._close(batch)
            batch.answered.send_exception(exc)
            raise
        batch.answered.send(answers)

    @staticmethod
    def _unpacked(answer: dict):
        if "error" in answer:
            raise raised(answer["error"])
        return answer["ok"]
