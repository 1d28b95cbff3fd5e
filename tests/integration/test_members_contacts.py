"""Contacts (tests/unit/members/contact_cases.py) on SQLite and PostgreSQL, no broker needed."""
import pytest
from argon2 import PasswordHasher

from members import security
from members.application import MembersApp
from umpnet_kernel.database import Database

from tests.unit.members.contact_cases import *  # noqa: F401,F403 (the scenarios, collected here)
from tests.unit.members.use_cases import SECRET


@pytest.fixture(autouse=True)
def quick_password_hashing(monkeypatch):
    monkeypatch.setattr(security, "_hasher", PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


@pytest.fixture(params=["sqlite", "postgresql"])
def app(request, migrated_url):
    db = Database(migrated_url("members", request.param))
    yield MembersApp(db, SECRET)
    db.dispose()


def _at_once(*calls):
    """Run the calls together; each one's answer, or the error it raised."""
    import eventlet

    def run(call):
        try:
            return call()
        except Exception as error:  # noqa: BLE001 (the outcome under test)
            return error

    return list(eventlet.GreenPool(len(calls)).imap(run, calls))


def test_two_requests_at_once_make_one_request_and_one_409(app):
    from members.events import ContactRequested
    from umpnet_kernel.errors import Conflict

    from tests.unit.members.contact_cases import ask, events_of, member

    camille, lucas = member(app, "camille@example.org", "Camille"), member(app, "lucas@example.org", "Lucas")
    outcomes = _at_once(lambda: ask(app, camille, lucas), lambda: ask(app, camille, lucas))
    assert sorted(type(o).__name__ for o in outcomes) == ["Conflict", "dict"], outcomes
    assert any(isinstance(o, Conflict) for o in outcomes)
    assert len(events_of(app, ContactRequested)) == 1


def test_two_members_asking_each_other_at_once_become_contacts(app):
    from members.events import ContactAccepted, ContactRequested

    from tests.unit.members.contact_cases import ask, events_of, listed, member

    camille, lucas = member(app, "camille@example.org", "Camille"), member(app, "lucas@example.org", "Lucas")
    outcomes = _at_once(lambda: ask(app, camille, lucas), lambda: ask(app, lucas, camille))
    assert sorted(o["status"] for o in outcomes) == ["accepted", "outgoing"], outcomes
    assert len(events_of(app, ContactRequested)) == len(events_of(app, ContactAccepted)) == 1
    assert listed(app, camille)[0]["status"] == listed(app, lucas)[0]["status"] == "accepted"
