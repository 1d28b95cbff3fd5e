"""Talents (issue 8 item 7), each test a scenario through `MembersApp`.

Written once, run on every store: tests/unit/members/test_talents.py runs them on
the in-memory database, tests/integration/test_members_talents.py on SQLite and
PostgreSQL. Each of those modules gives the `app` fixture. The clock the ranking
is read with is `app.clock`; events carry the time they were recorded at.
"""
from datetime import datetime, timedelta, timezone

from sqlalchemy import text

import pytest

from members.commands import GrantRole, SetRoles, UpdateProfile
from members.domain.member import Actor
from members.events import ContactAccepted
from members.talent_sources import talent_sources
from members.projections import read_models, talent_once, talents as talents_table
from members.talents import forget_member
from umpnet_kernel.errors import Forbidden, ValidationFailed
from umpnet_kernel.events import Context
from umpnet_kernel.messages import IncomingEvent
from umpnet_kernel.paging import BadCursor
from umpnet_kernel.testing import dump_tables

from .contact_cases import accept, ask, member, remove
from .use_cases import events_of

NATIONAL = {"member_id": "n", "roles": ["member", "national_admin"], "federation_code": "75"}
ADMIN_69 = {"member_id": "a69", "roles": ["member", "federation_admin"], "federation_code": "69"}
ADMIN_75 = {"member_id": "a75", "roles": ["member", "federation_admin"], "federation_code": "75"}
MEMBER = {"member_id": "m", "roles": ["member"], "federation_code": "69"}
# The platform's sources, and one of another service's that nobody publishes (a made-up event).
SOURCES = talent_sources.copy()
SOURCES.register("events.ExampleAttended", "attendance", credit=lambda e: {e.member_id: 2})
SOURCES.register("events.ExampleBrought", "signatures_brought", credit=lambda e: {e.referred_by: 1} if e.referred_by else {})
COMPLETE = {"bio": "Militante associative", "themes": ("europe",), "skills": ("Prise de parole",)}


def at_recording_time(app):
    """Read the ranking as of now (the events' own time): no decay yet, to the hundredth."""
    app.clock = lambda: datetime.now(timezone.utc)


def scores(app, actor=NATIONAL, **query):
    return {item["member_id"]: (item["score"], item["breakdown"]) for item in app.talents(actor, **query)["items"]}


def contacts(app, a, b):
    ask(app, a, b)
    accept(app, b, a)


@pytest.fixture
def camille(app):
    return member(app, "camille@example.org", "Camille")


@pytest.fixture
def lucas(app):
    return member(app, "lucas@example.org", "Lucas")


@pytest.fixture
def sacha(app):
    """In the Paris federation (75)."""
    sacha = member(app, "sacha@example.org", "Sacha")
    app.update_profile(UpdateProfile(sacha, postcode="75011"), Context())
    return sacha


def test_a_contact_made_credits_both_members(app, camille, lucas):
    at_recording_time(app)
    assert scores(app) == {}
    contacts(app, camille, lucas)
    assert scores(app) == {camille: (3.0, {"contacts": 3.0}), lucas: (3.0, {"contacts": 3.0})}
    item = app.talents(NATIONAL)["items"][0]
    assert set(item) == {"member_id", "display_name", "score", "breakdown"}
    assert item["display_name"] in ("Camille M.", "Lucas M.")


def test_a_contact_removed_and_made_again_earns_nothing_more(app, camille, lucas, sacha):
    at_recording_time(app)
    contacts(app, camille, lucas)
    for remover in (camille, lucas):
        remove(app, remover, lucas if remover == camille else camille)
        contacts(app, lucas, camille)  # asked the other way round: the same pair
    contacts(app, camille, sacha)
    assert scores(app) == {camille: (6.0, {"contacts": 6.0}), lucas: (3.0, {"contacts": 3.0}),
                           sacha: (3.0, {"contacts": 3.0})}


def test_a_completed_profile_is_credited_once_not_at_every_save(app, camille):
    at_recording_time(app)
    app.update_profile(UpdateProfile(camille, bio="Militante", themes=("europe",)), Context())
    assert scores(app) == {}  # no skills yet: not complete
    app.update_profile(UpdateProfile(camille, skills=("Prise de parole",)), Context())
    assert scores(app) == {camille: (10.0, {"profile": 10.0})}
    app.update_profile(UpdateProfile(camille, bio="Militante, encore"), Context())
    app.update_profile(UpdateProfile(camille, bio=""), Context())
    app.update_profile(UpdateProfile(camille, bio="De retour"), Context())  # complete again: still once
    assert scores(app) == {camille: (10.0, {"profile": 10.0})}


def test_a_registered_blog_is_credited_once(app, camille):
    at_recording_time(app)
    app.update_profile(UpdateProfile(camille, blog_url="https://camille.example.org"), Context())
    app.update_profile(UpdateProfile(camille, blog_url="https://autre.example.org"), Context())
    app.update_profile(UpdateProfile(camille, blog_url=None), Context())
    app.update_profile(UpdateProfile(camille, blog_url="https://camille.example.org"), Context())
    assert scores(app) == {camille: (5.0, {"blog": 5.0})}


def test_the_breakdown_adds_up_to_the_score(app, camille, lucas, sacha):
    at_recording_time(app)
    contacts(app, camille, lucas)
    contacts(app, camille, sacha)
    app.update_profile(UpdateProfile(camille, blog_url="https://camille.example.org", **COMPLETE), Context())
    found = scores(app)
    assert found[camille] == (21.0, {"blog": 5.0, "contacts": 6.0, "profile": 10.0})
    assert found[lucas] == found[sacha] == (3.0, {"contacts": 3.0})


def test_scores_halve_every_ninety_days_and_reading_writes_nothing(app, camille, lucas):
    contacts(app, camille, lucas)
    recorded = [r for r in events_of_recorded(app) if isinstance(r.event, ContactAccepted)][0].meta.occurred_at
    with app.read() as conn:
        before = dump_tables(conn, [talents_table])
    for days, expected in ((0, 3.0), (90, 1.5), (180, 0.75), (45, round(3 * 2 ** -0.5, 2))):
        app.clock = lambda days=days: recorded + timedelta(days=days)
        assert scores(app)[camille] == (expected, {"contacts": expected}), days
    with app.read() as conn:
        assert dump_tables(conn, [talents_table]) == before  # reading a ranking rewrites no row


def test_older_credits_weigh_less_than_newer_ones(app, camille, lucas, sacha):
    """Two remote credits of the same points, a year apart: the recent one ranks first."""
    now = datetime.now(timezone.utc)
    app.clock = lambda: now
    for name, credited, when in (("old", camille, now - timedelta(days=365)), ("new", lucas, now)):
        app.credit_talents(incoming(app, {"member_id": credited}, occurred_at=when, event_id=f"e-{name}"))
    ranked = app.talents(NATIONAL)["items"]
    assert [(i["member_id"], i["score"]) for i in ranked] == [(lucas, 2.0), (camille, round(2 * 2 ** (-365 / 90), 2))]


def test_the_ranking_is_best_first_and_pages_without_repeats(app, camille, lucas, sacha):
    at_recording_time(app)
    others = [member(app, f"m{n}@example.org", f"M{n}") for n in range(3)]
    for other in others:
        contacts(app, camille, other)  # camille 9 (+ below), each other 3
    contacts(app, lucas, sacha)  # lucas 3, sacha 3
    app.update_profile(UpdateProfile(lucas, blog_url="https://lucas.example.org"), Context())  # lucas 8
    ranked = app.talents(NATIONAL)["items"]
    assert [i["member_id"] for i in ranked[:2]] == [camille, lucas]
    assert [i["score"] for i in ranked] == sorted((i["score"] for i in ranked), reverse=True)
    seen, cursor = [], None
    while True:
        page = app.talents(NATIONAL, limit=2, cursor=cursor)
        assert len(page["items"]) <= 2
        seen += [i["member_id"] for i in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [i["member_id"] for i in ranked] and len(set(seen)) == len(seen) == 6
    with pytest.raises(BadCursor):
        app.talents(NATIONAL, cursor="not-a-cursor")
    with pytest.raises(ValidationFailed):
        app.talents(NATIONAL, limit="0")


def test_who_sees_which_ranking(app, camille, lucas, sacha):
    at_recording_time(app)
    contacts(app, camille, sacha)  # camille in 69, sacha in 75
    assert set(scores(app, ADMIN_69)) == {camille}  # their own federation by default
    assert set(scores(app, ADMIN_69, federation="69")) == {camille}
    assert set(scores(app, ADMIN_75)) == {sacha}
    for actor, federation in ((ADMIN_69, "75"), (ADMIN_75, "69"), (ADMIN_69, "numerique")):
        with pytest.raises(Forbidden):
            app.talents(actor, federation)
    for actor in (MEMBER, {**MEMBER, "roles": ["member", "organizer", "moderator", "candidate"]}):
        with pytest.raises(Forbidden):
            app.talents(actor)
    assert set(scores(app)) == {camille, sacha}  # a national admin: everyone
    assert set(scores(app, federation="numerique")) == {camille, sacha}
    assert set(scores(app, federation="75")) == {sacha}
    assert scores(app, federation="33") == {}
    with pytest.raises(ValidationFailed) as unknown:
        app.talents(NATIONAL, "999")
    assert "federation" in unknown.value.fields


def test_a_member_who_moves_is_ranked_in_their_new_federation(app, camille, lucas):
    at_recording_time(app)
    contacts(app, camille, lucas)
    app.update_profile(UpdateProfile(camille, postcode="75011"), Context())
    assert set(scores(app, ADMIN_75)) == {camille} and set(scores(app, ADMIN_69)) == {lucas}


def test_the_read_model_rebuilds_to_the_same_rows(app, camille, lucas, sacha):
    contacts(app, camille, lucas)
    contacts(app, sacha, lucas)
    app.update_profile(UpdateProfile(camille, blog_url="https://camille.example.org", **COMPLETE), Context())
    app.update_profile(UpdateProfile(camille, bio="Encore"), Context())
    app.credit_talents(incoming(app, {"member_id": sacha}, event_id="remote-1"))
    tables = list(read_models.sorted_tables)
    with app.read() as conn:
        live = dump_tables(conn, tables)
    assert len(live["talents"]) == 3 and len(live["talent_once"]) == 6  # 4 contact sides, profile, blog
    app.rebuild_read_models()
    with app.read() as conn:
        assert dump_tables(conn, tables) == live


def test_forgetting_a_member_removes_their_rows_only(app, camille, lucas):
    contacts(app, camille, lucas)
    with app.db.write() as conn:
        forget_member(conn, camille)
    at_recording_time(app)
    assert set(scores(app)) == {lucas}
    with app.read() as conn:
        left = dump_tables(conn, [talents_table, talent_once])
    assert [row[0] for row in left["talents"]] == [lucas] and [row[0] for row in left["talent_once"]] == [lucas]


# -- another service's events: the subscription path -------------------------------
def incoming(app, data, occurred_at=None, event_id="remote-event-1", event_type="events.ExampleAttended"):
    """A remote event as the subscriber hands it over (the source must be registered in `app`)."""
    return IncomingEvent(event_id=event_id, event_type=event_type, schema_version=1, stream_id="x",
                         stream_version=1, position=1, occurred_at=occurred_at or datetime.now(timezone.utc),
                         actor_id=None, correlation_id=None, causation_id=None, data=data)


def test_another_services_event_is_credited_once_whatever_its_redeliveries(app, camille):
    at_recording_time(app)
    event = incoming(app, {"member_id": camille, "meeting_id": "r1"})
    for _ in range(3):
        app.credit_talents(event)
    assert scores(app) == {camille: (2.0, {"attendance": 2.0})}
    app.credit_talents(incoming(app, {"member_id": camille}, event_id="remote-event-2"))
    assert scores(app) == {camille: (4.0, {"attendance": 4.0})}


def test_a_batch_of_remote_events_credits_what_they_do_one_by_one_and_nothing_for_no_one(app, camille, sacha):
    """The subscription hands the waiting events over together (`credit_talents_many`): each is
    credited once, redeliveries inside the batch included; one that credits nobody records nothing."""
    at_recording_time(app)
    before = len(events_of_recorded(app))
    nobody = incoming(app, {"referred_by": None}, event_id="remote-none", event_type="events.ExampleBrought")
    app.credit_talents_many([nobody])
    assert len(events_of_recorded(app)) == before
    with app.read() as conn:
        assert not conn.execute(text("SELECT count(*) FROM processed_messages "
                                     "WHERE event_id = 'remote-none'")).scalar()
    first = incoming(app, {"member_id": camille}, event_id="remote-a")
    app.credit_talents_many([first, incoming(app, {"member_id": sacha}, event_id="remote-b"), first, nobody])
    app.credit_talents_many([first])  # delivered again later
    assert scores(app) == {camille: (2.0, {"attendance": 2.0}), sacha: (2.0, {"attendance": 2.0})}
    assert len(events_of_recorded(app)) == before + 2


def events_of_recorded(app):
    with app.read() as conn:
        return list(app.store.read_all(conn))


def test_set_roles_still_follows_its_rules(app, camille, sacha):
    """The role rule moved into domain.member.roles_grantable: the same outcomes. The authors are
    members (members decides from the roles they hold, not from what their session says)."""
    a69 = member(app, "a69@example.org", "Ana")
    app.grant_role(GrantRole("a69@example.org", "federation_admin"), Context())
    plain = member(app, "m@example.org", "Max")
    by_69 = Actor(a69, ("member", "federation_admin"), "69")
    app.set_roles(SetRoles(by_69, camille, ("organizer",)), Context())
    with pytest.raises(Forbidden):
        app.set_roles(SetRoles(by_69, sacha, ("organizer",)), Context())
    with pytest.raises(Forbidden):
        app.set_roles(SetRoles(by_69, camille, ("organizer", "federation_admin")), Context())
    with pytest.raises(Forbidden):  # a plain member may not even "change" nothing
        app.set_roles(SetRoles(Actor(plain, ("member",), "69"), camille, ("organizer",)), Context())
    assert app.own_profile(camille)["roles"] == ["member", "organizer"]


def test_what_the_roles_form_offers_each_admin(app, camille, sacha):
    choices = app.role_choices(ADMIN_69, camille)
    assert choices["grantable"] == ["organizer", "candidate", "moderator"]
    assert choices["member"]["id"] == camille and choices["member"]["roles"] == ["member"]
    assert choices["member"]["federation"]["code"] == "69"
    assert app.role_choices(NATIONAL, sacha)["grantable"] == [
        "organizer", "candidate", "moderator", "federation_admin", "national_admin"]
    for actor, target in ((ADMIN_69, sacha), (ADMIN_75, camille), (MEMBER, camille)):
        with pytest.raises(Forbidden):
            app.role_choices(actor, target)
