"""Contacts (tests/unit/members/contact_cases.py) on SQLite and PostgreSQL, no broker needed."""
from tests.unit.members.contact_cases import *  # noqa: F401,F403 (the scenarios, collected here)
from tests.integration.members_fixtures import app, quick_password_hashing  # noqa: F401 (fixtures)


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


def test_a_profile_stored_before_the_choice_existed_loads_and_accepts_requests(app):
    """ProfileUpdated v2 had no accepts_contact_requests: upcast to v3, such a member accepts requests."""
    from sqlalchemy import select, update

    from members.commands import UpdateProfile
    from members.events import ProfileUpdated
    from umpnet_kernel import jsontext
    from umpnet_kernel.events import Context
    from umpnet_kernel.store import events_table

    from tests.unit.members.contact_cases import ask, events_of, member

    camille, lucas = member(app, "camille@example.org", "Camille"), member(app, "lucas@example.org", "Lucas")
    stored = events_table.c
    with app.db.write() as conn:  # the profiles as a v2 service stored them (events are never rewritten but here)
        for row in conn.execute(select(stored.position, stored.data)
                                .where(stored.event_type == "members.ProfileUpdated")).all():
            data = jsontext.decode(row.data)
            del data["accepts_contact_requests"]
            conn.execute(update(events_table).where(stored.position == row.position)
                         .values(schema_version=2, data=jsontext.encode(data)))
    app.rebuild_read_models()
    assert all(e.accepts_contact_requests is True for e in events_of(app, ProfileUpdated))
    assert app.own_profile(lucas)["accepts_contact_requests"] is True and app.own_profile(lucas)["first_name"] == "Lucas"
    assert ask(app, camille, lucas)["status"] == "outgoing"
    app.update_profile(UpdateProfile(lucas, bio="Militant"), Context())  # his aggregate loads from v2 too
    assert events_of(app, ProfileUpdated)[-1].accepts_contact_requests is True
