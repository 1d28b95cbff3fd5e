"""The gateway's `Gatherer`: the requests of a few milliseconds share one call, and each gets its own answer."""
import eventlet
import pytest

from umpnet_gateway.batching import Gatherer
from umpnet_kernel.errors import NotFound, RateLimited, ValidationFailed


class Recorder:
    """Stands in for `Services`: records each call's batch and answers per item."""

    def __init__(self, answer=lambda item: {"ok": {"echo": item}}, delay=0.0, failure=None):
        self.batches, self.answer, self.delay, self.failure = [], answer, delay, failure

    def call(self, service, method, items):
        self.batches.append((service, method, list(items)))
        if self.delay:
            eventlet.sleep(self.delay)
        if self.failure:
            raise self.failure
        return [self.answer(item) for item in items]


def run_together(gatherer, services, items):
    pool = eventlet.GreenPool()
    threads = [pool.spawn(gatherer.call, services, item) for item in items]
    results = []
    for thread in threads:
        try:
            results.append(thread.wait())
        except Exception as exc:  # noqa: BLE001 (asserted by the tests)
            results.append(exc)
    return results


def test_concurrent_requests_share_one_call_and_each_gets_its_own_answer():
    services = Recorder()
    results = run_together(Gatherer("petitions", "sign_many", size=50, wait=0.01), services, list(range(10)))
    assert results == [{"echo": n} for n in range(10)]
    assert [(s, m, len(items)) for s, m, items in services.batches] == [("petitions", "sign_many", 10)]


def test_a_full_batch_goes_at_once_and_the_next_requests_start_another():
    services = Recorder(delay=0.01)
    results = run_together(Gatherer("petitions", "sign_many", size=4, wait=1.0), services, list(range(10)))
    assert results == [{"echo": n} for n in range(10)]
    assert [len(items) for _, _, items in services.batches] == [4, 4, 2]
    assert sorted(n for _, _, items in services.batches for n in items) == list(range(10))


def test_a_lone_request_waits_no_longer_than_the_gathering_time():
    services = Recorder()
    started = eventlet.hubs.get_hub().clock()
    assert Gatherer("petitions", "sign_many", wait=0.005).call(services, "alone") == {"echo": "alone"}
    assert eventlet.hubs.get_hub().clock() - started < 0.5


def test_a_refused_item_is_raised_as_its_own_domain_error_the_others_answered():
    def answer(item):
        if item == "bad":
            return {"error": {"type": "ValidationFailed", "message": "Adresse e-mail invalide.",
                              "fields": {"email": ["Adresse e-mail invalide."]}}}
        if item == "busy":
            return {"error": {"type": "RateLimited", "message": "Trop.", "fields": {}, "retry_after": 30}}
        if item == "gone":
            return {"error": {"type": "NotFound", "message": "Pétition introuvable.", "fields": {}}}
        return {"ok": item}

    results = run_together(Gatherer("petitions", "sign_many", wait=0.01), Recorder(answer), ["a", "bad", "busy", "gone"])
    assert results[0] == "a"
    assert isinstance(results[1], ValidationFailed) and results[1].fields == {"email": ["Adresse e-mail invalide."]}
    assert isinstance(results[2], RateLimited) and results[2].retry_after == 30
    assert isinstance(results[3], NotFound)


def test_a_failed_call_fails_every_request_of_its_batch_and_the_next_batch_is_fresh():
    failing = Recorder(failure=ConnectionError("broker away"))
    gatherer = Gatherer("petitions", "sign_many", wait=0.01)
    results = run_together(gatherer, failing, ["a", "b", "c"])
    assert all(isinstance(r, ConnectionError) for r in results)
    assert gatherer.call(Recorder(), "d") == {"echo": "d"}


def test_while_calls_are_out_the_next_requests_gather_into_one_batch():
    """Requests arriving one by one, further apart than `wait`: without a free slot they
    do not each make a call, they wait together for the one out to come back."""

    def arriving(gatherer, services):
        pool = eventlet.GreenPool()
        threads = []
        for n in range(12):
            threads.append(pool.spawn(gatherer.call, services, n))
            eventlet.sleep(0.004)
        return [t.wait() for t in threads]

    one_at_a_time = Recorder(delay=0.1)
    assert arriving(Gatherer("petitions", "sign_many", wait=0.002, in_flight=1), one_at_a_time) == [
        {"echo": n} for n in range(12)]
    assert [len(items) for _, _, items in one_at_a_time.batches] == [1, 11]
    unlimited = Recorder(delay=0.1)
    arriving(Gatherer("petitions", "sign_many", wait=0.002, in_flight=100), unlimited)
    assert len(unlimited.batches) == 12


def test_a_failed_call_frees_its_slot():
    gatherer = Gatherer("petitions", "sign_many", wait=0.001, in_flight=1)
    assert isinstance(run_together(gatherer, Recorder(failure=ConnectionError("away")), ["a"])[0], ConnectionError)
    assert gatherer.call(Recorder(), "b") == {"echo": "b"}
