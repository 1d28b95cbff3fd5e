"""Contacts between members (issue 8 item 4), each test a scenario through `MembersApp`.

Written once, run on every store: tests/unit/members/test_contacts.py runs them
on the in-memory database, tests/integration/test_members_contacts.py on SQLite
and PostgreSQL. Each of those modules gives the `app` fixture.
"""
import pytest

from members.commands import AcceptContact, RemoveContact, RequestContact, UpdateProfile
from members.domain.contact import contact_id_for
from members.events import ContactAccepted, ContactDeclined, ContactRemoved, ContactRequested
from members.projections import contacts as contacts_table, read_models
from members.throttle import Limit, RateLimits
from umpnet_kernel.errors import Conflict, Forbidden, NotFound, RateLimited, ValidationFailed
from umpnet_kernel.events import Context
from umpnet_kernel.paging import BadCursor
from umpnet_kernel.testing import dump_tables

from .use_cases import events_of, register, verified


def member(app, email, first_name, accepts=True):
    """A verified member with a name, who accepts contact requests (a new member's
    choice) or unticked it; their consent to the party's contact stays the default (no)."""
    member_id = verified(app, email)
    choice = {} if accepts else {"accepts_contact_requests": False}
    app.update_profile(UpdateProfile(member_id, first_name=first_name, last_name="Martin", **choice), Context())
    return member_id


@pytest.fixture
def camille(app):
    return member(app, "camille@example.org", "Camille")


@pytest.fixture
def lucas(app):
    return member(app, "lucas@example.org", "Lucas")


def ask(app, by, to):
    return app.request_contact(RequestContact(by, to), Context(actor_id=by))


def accept(app, by, other):
    return app.accept_contact(AcceptContact(by, other), Context(actor_id=by))


def remove(app, by, other):
    return app.remove_contact(RemoveContact(by, other), Context(actor_id=by))


def listed(app, member_id, **page):
    return app.list_contacts(member_id, **page)["items"]


def test_a_request_is_outgoing_for_the_requester_and_incoming_for_the_addressee(app, camille, lucas):
    assert ask(app, camille, lucas) == {"member_id": lucas, "display_name": "Lucas M.", "status": "outgoing"}
    assert listed(app, camille) == [{"member_id": lucas, "display_name": "Lucas M.", "status": "outgoing"}]
    assert listed(app, lucas) == [{"member_id": camille, "display_name": "Camille M.", "status": "incoming"}]
    (requested,) = events_of(app, ContactRequested)
    assert (requested.requester_id, requested.addressee_id) == (camille, lucas)
    assert requested.contact_id == contact_id_for(lucas, camille)  # one stream per unordered pair


def test_the_addressee_accepts_and_both_see_an_accepted_contact(app, camille, lucas):
    ask(app, camille, lucas)
    assert accept(app, lucas, camille) == {"member_id": camille, "display_name": "Camille M.", "status": "accepted"}
    assert listed(app, camille) == [{"member_id": lucas, "display_name": "Lucas M.", "status": "accepted"}]
    assert listed(app, lucas) == [{"member_id": camille, "display_name": "Camille M.", "status": "accepted"}]
    assert len(events_of(app, ContactAccepted)) == 1
    accept(app, lucas, camille)  # accepting again changes nothing
    assert len(events_of(app, ContactAccepted)) == 1


def test_the_requester_cannot_accept_their_own_request(app, camille, lucas):
    ask(app, camille, lucas)
    with pytest.raises(Forbidden):
        accept(app, camille, lucas)
    assert listed(app, lucas)[0]["status"] == "incoming" and not events_of(app, ContactAccepted)


def test_a_stranger_cannot_accept_a_request_addressed_to_someone_else(app, camille, lucas):
    stranger = member(app, "sacha@example.org", "Sacha")
    ask(app, camille, lucas)
    with pytest.raises(NotFound):  # no request between Sacha and Camille
        accept(app, stranger, camille)
    with pytest.raises(NotFound):
        accept(app, stranger, lucas)
    assert listed(app, lucas)[0]["status"] == "incoming" and listed(app, stranger) == []


def test_no_duplicate_request(app, camille, lucas):
    ask(app, camille, lucas)
    with pytest.raises(Conflict):
        ask(app, camille, lucas)
    accept(app, lucas, camille)
    with pytest.raises(Conflict):  # already contacts
        ask(app, camille, lucas)
    with pytest.raises(Conflict):
        ask(app, lucas, camille)
    assert len(events_of(app, ContactRequested)) == 1


def test_a_request_crossing_one_in_the_other_direction_makes_them_contacts(app, camille, lucas):
    ask(app, camille, lucas)
    assert ask(app, lucas, camille) == {"member_id": camille, "display_name": "Camille M.", "status": "accepted"}
    assert listed(app, camille)[0]["status"] == listed(app, lucas)[0]["status"] == "accepted"
    (accepted,) = events_of(app, ContactAccepted)
    assert (accepted.requester_id, accepted.addressee_id) == (camille, lucas)


def test_no_request_to_oneself(app, camille):
    with pytest.raises(ValidationFailed) as refused:
        ask(app, camille, camille)
    assert "member_id" in refused.value.fields


def test_unknown_and_unverified_members_are_not_found(app, camille):
    register(app, "pending@example.org")
    from .use_cases import member_id_of

    unverified = member_id_of(app, "pending@example.org")
    for other in (unverified, "00000000-0000-4000-8000-000000000000"):
        with pytest.raises(NotFound):
            ask(app, camille, other)
        with pytest.raises(NotFound):
            accept(app, camille, other)
        with pytest.raises(NotFound):
            remove(app, camille, other)
    assert not events_of(app, ContactRequested)


def test_a_new_member_accepts_requests_without_ticking_anything(app, camille):
    newcomer = verified(app, "new@example.org")  # signed up and verified, profile never edited
    assert app.own_profile(newcomer)["accepts_contact_requests"] is True
    assert app.own_profile(newcomer)["contact_consent"] is False  # the party's contact stays opt-in
    assert ask(app, camille, newcomer)["status"] == "outgoing"
    assert listed(app, newcomer)[0]["status"] == "incoming"


def test_the_partys_contact_consent_has_no_effect_on_requests(app, camille):
    no_party_mail = member(app, "quiet@example.org", "Noa")
    app.update_profile(UpdateProfile(no_party_mail, contact_consent=True), Context())
    app.update_profile(UpdateProfile(no_party_mail, contact_consent=False), Context())  # ticked, then unticked
    assert ask(app, camille, no_party_mail)["status"] == "outgoing"
    refuses = member(app, "shy@example.org", "Dominique", accepts=False)
    app.update_profile(UpdateProfile(refuses, contact_consent=True), Context())
    with pytest.raises(Forbidden):  # consenting to the party's mail does not open the door to members
        ask(app, camille, refuses)


def test_a_member_who_unticks_refuses_requests_and_may_accept_them_again(app, camille):
    lucas = member(app, "lucas@example.org", "Lucas")
    app.update_profile(UpdateProfile(lucas, accepts_contact_requests=False), Context())
    assert app.own_profile(lucas)["accepts_contact_requests"] is False
    with pytest.raises(Forbidden):
        ask(app, camille, lucas)
    app.update_profile(UpdateProfile(lucas, accepts_contact_requests=True), Context())
    assert ask(app, camille, lucas)["status"] == "outgoing"


def test_a_member_who_refuses_requests_is_not_asked(app, camille):
    shy = member(app, "shy@example.org", "Dominique", accepts=False)
    with pytest.raises(Forbidden) as refused:
        ask(app, camille, shy)
    assert "member_id" in refused.value.fields
    assert listed(app, shy) == [] and not events_of(app, ContactRequested)
    # Refusing requests does not stop them from asking: the one they ask may answer.
    ask(app, shy, camille)
    accept(app, camille, shy)
    assert listed(app, shy)[0]["status"] == "accepted"


def test_a_request_to_a_member_who_refuses_is_honoured_when_it_crosses_theirs(app, camille):
    shy = member(app, "shy@example.org", "Dominique", accepts=False)
    ask(app, shy, camille)
    assert ask(app, camille, shy)["status"] == "accepted"


def test_the_addressee_declines_and_the_requester_may_ask_again(app, camille, lucas):
    ask(app, camille, lucas)
    remove(app, lucas, camille)
    assert listed(app, camille) == listed(app, lucas) == []
    (declined,) = events_of(app, ContactDeclined)
    assert (declined.requester_id, declined.addressee_id) == (camille, lucas)
    assert ask(app, camille, lucas)["status"] == "outgoing"


def test_the_requester_withdraws_and_either_removes_an_accepted_contact(app, camille, lucas):
    ask(app, camille, lucas)
    remove(app, camille, lucas)  # withdrawn
    assert listed(app, lucas) == []
    ask(app, lucas, camille)
    accept(app, camille, lucas)
    remove(app, lucas, camille)
    assert listed(app, camille) == listed(app, lucas) == []
    removed = events_of(app, ContactRemoved)
    assert [(e.removed_by, e.other_id) for e in removed] == [(camille, lucas), (lucas, camille)]
    with pytest.raises(NotFound):
        remove(app, lucas, camille)


def test_accepted_contacts_see_each_others_email_and_nobody_else_does(app, camille, lucas):
    stranger = member(app, "sacha@example.org", "Sacha")
    ask(app, camille, lucas)
    outgoing = app.public_profile(lucas, viewer_id=camille)
    assert "email" not in outgoing and outgoing["contact_status"] == "outgoing"
    assert app.public_profile(camille, viewer_id=lucas)["contact_status"] == "incoming"
    accept(app, lucas, camille)
    assert app.public_profile(lucas, viewer_id=camille)["email"] == "lucas@example.org"
    assert app.public_profile(camille, viewer_id=lucas)["email"] == "camille@example.org"
    for viewer in (stranger, None):
        seen = app.public_profile(lucas, viewer_id=viewer)
        assert "email" not in seen and "contact_status" not in seen
    # what the member chose to show stays their choice, for contacts too
    assert "city" not in app.public_profile(lucas, viewer_id=camille)


def test_the_list_is_paged_newest_first(app, camille):
    others = [member(app, f"m{i}@example.org", f"Membre{i}") for i in range(5)]
    for other in others:
        ask(app, camille, other)
    first = app.list_contacts(camille, limit=2)
    assert [c["member_id"] for c in first["items"]] == others[::-1][:2]
    seen = [c["member_id"] for c in first["items"]]
    cursor = first["next_cursor"]
    while cursor:
        page = app.list_contacts(camille, limit=2, cursor=cursor)
        seen += [c["member_id"] for c in page["items"]]
        cursor = page["next_cursor"]
    assert seen == others[::-1]
    with pytest.raises(BadCursor):
        app.list_contacts(camille, limit=2, cursor="bm90LWEtY3Vyc29y")


def test_contact_requests_are_rate_limited_per_member(app, camille):
    app.limits = RateLimits(contact_requests_per_member=Limit(2, RateLimits().contact_requests_per_member.window))
    others = [member(app, f"m{i}@example.org", f"Membre{i}") for i in range(3)]
    ask(app, camille, others[0])
    with pytest.raises(Conflict):  # a refused request does not count
        ask(app, camille, others[0])
    ask(app, camille, others[1])
    with pytest.raises(RateLimited) as limited:
        ask(app, camille, others[2])
    assert limited.value.retry_after > 0
    assert len(listed(app, camille)) == 2
    ask(app, others[2], camille)  # another member's requests are counted apart


def test_the_contacts_read_model_rebuilds_to_the_same_rows(app, camille, lucas):
    sacha = member(app, "sacha@example.org", "Sacha")
    ask(app, camille, lucas)
    accept(app, lucas, camille)
    ask(app, sacha, camille)
    ask(app, sacha, lucas)
    remove(app, lucas, sacha)
    with app.read() as conn:
        live = dump_tables(conn, [contacts_table])
    assert len(live[contacts_table.name]) == 4
    app.rebuild_read_models()
    with app.read() as conn:
        assert dump_tables(conn, [contacts_table]) == live
