"""The petitions use cases (tests/unit/petitions/petition_cases.py) on SQLite and
PostgreSQL, migrated; and the once-per-address rule under concurrency."""
import threading

import pytest

from petitions.commands import ConfirmSignature
from umpnet_kernel.database import Database

from tests.unit.petitions.petition_cases import *  # noqa: F401,F403 (the scenarios, collected here)
from tests.unit.petitions.petition_cases import ANONYMOUS, Outbox, build_app, count, from_source, launch, signing


@pytest.fixture(params=["sqlite", "postgresql"])
def app(request, migrated_url):
    db = Database(migrated_url("petitions", request.param))
    yield build_app(db)
    db.dispose()


def test_one_address_signing_from_many_threads_at_once_counts_once(app):
    outbox = Outbox(app)
    petition = launch(app)
    spellings = ["race@example.org", "RACE@example.org", "race@EXAMPLE.org", "Race@Example.Org"] * 3
    errors = []

    def sign(email, n):
        try:
            app.sign(signing(petition["id"], email), from_source(f"198.51.100.{n}"))
        except Exception as exc:  # noqa: BLE001 (collected, asserted below)
            errors.append(exc)

    threads = [threading.Thread(target=sign, args=(email, n)) for n, email in enumerate(spellings)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    tokens = {app.links.token("petition-signature", e.link_nonce) for e in outbox.of(
        __import__("petitions.events", fromlist=["SignatureRequested"]).SignatureRequested)}
    assert 1 <= len(tokens) <= 3  # at most three links to one address an hour
    confirmed = 0
    for token in tokens:
        try:
            app.confirm(ConfirmSignature(token), ANONYMOUS)
            confirmed += 1
        except Exception:  # noqa: BLE001 (the older links no longer work)
            pass
    assert confirmed == 1
    assert count(app, petition["id"]) == 1


def test_concurrent_confirmations_of_many_signers_count_each_once(app):
    outbox = Outbox(app)
    petition = launch(app, goal=20)
    for n in range(20):
        app.sign(signing(petition["id"], f"crowd{n}@example.org"), from_source(f"198.51.{n}.1"))
    from petitions.events import MilestoneReached, SignatureRequested

    tokens = [app.links.token("petition-signature", e.link_nonce) for e in outbox.of(SignatureRequested)]
    tokens = tokens + tokens  # each link followed twice at once (a double click)
    results = []

    def confirm(token):
        try:
            app.confirm(ConfirmSignature(token), ANONYMOUS)
            results.append("ok")
        except Exception as exc:  # noqa: BLE001
            results.append(type(exc).__name__)

    threads = [threading.Thread(target=confirm, args=(t,)) for t in tokens]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count("ok") == 20
    assert count(app, petition["id"]) == 20
    assert sorted(e.milestone for e in outbox.of(MilestoneReached)) == [50, 100]
