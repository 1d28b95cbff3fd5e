"""The members use cases on the in-memory database: no file, no server.

The scenarios are use_cases.py's, also run on SQLite and PostgreSQL by
tests/integration/test_members_application.py; the last test here plays one
whole story on the in-memory database and on SQLite and finds the same events,
answers and read models.
"""
import re
from datetime import datetime

import pytest

from members.application import MembersApp
from members.commands import (
    CloseSession,
    GrantRole,
    OpenSession,
    RequestPasswordReset,
    ResetPassword,
    SetRoles,
    UpdateProfile,
    VerifyEmail,
)
from members.domain.member import Actor
from members.events import EmailVerificationRequested, PasswordResetRequested
from members.projections import read_models
from members.throttle import throttle_counters
from umpnet_kernel.database import Database
from umpnet_kernel.errors import Unauthorized
from umpnet_kernel.events import Context
from umpnet_kernel.testing import InMemoryDatabase, dump_tables

from .use_cases import *  # noqa: F401,F403 (the scenarios, collected here)
from .use_cases import PASSWORD, SECRET, link_token, register


pytestmark = pytest.mark.usefixtures("quick_password_hashing")


def test_the_in_memory_app_keeps_its_events_in_python_not_in_sql(app):
    register(app)
    assert isinstance(app.db, InMemoryDatabase) and app.store is app.db.store
    with app.read() as conn:
        assert app.store.count(conn) == 3  # registered, password set, verification requested
        assert conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE name = 'events'").all() == []


# -- the same story on the in-memory database and on SQLite --------------------
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_RANDOM_TEXT = re.compile(r"\$argon2id\$.*|[0-9a-f]{64}")  # password hashes, token and nonce digests
_RANDOM_FIELDS = {"token", "link_nonce"}


class Canonical:
    """Values with their random parts (ids, nonces, hashes, times) replaced by
    names given in order of first appearance, so two runs of one story compare.
    Once `frozen`, values not seen before all become "<new>": their order of
    appearance in sorted tables would depend on the random values themselves."""

    def __init__(self):
        self.names: dict[str, str] = {}
        self.frozen = False

    def name(self, value: str) -> str:
        if value not in self.names:
            if self.frozen:
                return "<new>"
            self.names[value] = f"<{len(self.names) + 1}>"
        return self.names[value]

    def __call__(self, value, field=None):
        if isinstance(value, datetime):
            return "<time>"
        if isinstance(value, str):
            if field in _RANDOM_FIELDS or _RANDOM_TEXT.fullmatch(value):
                return self.name(value)
            return _UUID.sub(lambda m: self.name(m.group()), value)
        if isinstance(value, (list, tuple)):
            return [self(v) for v in value]
        if isinstance(value, dict):
            return {k: self(v, k) for k, v in value.items()}
        return value


def play_the_story(app) -> list:
    """Camille signs up twice, verifies, fails then succeeds to log in, edits her
    profile, is made an admin, names Léa organiser, resets her password, logs out."""
    answers = [register(app, themes=["europe"]), register(app)]
    answers.append(app.verify_email(VerifyEmail(link_token(app)), Context()))
    camille = answers[-1]["member_id"]
    with pytest.raises(Unauthorized):
        app.open_session(OpenSession("camille@example.org", "Wrong-password-1"), Context(source="203.0.113.1"))
    session = app.open_session(OpenSession("camille@example.org", PASSWORD), Context(source="203.0.113.1"))
    answers.append(session)
    answers.append(app.update_profile(UpdateProfile(camille, bio="Militante", postcode="75011",
                                                    shown_fields=("city",)), Context(actor_id=camille)))
    answers.append(app.grant_role(GrantRole("camille@example.org", "national_admin"), Context()))
    answers.append(register(app, email="lea@example.org", first_name="Léa", postcode="33000"))
    answers.append(app.verify_email(VerifyEmail(link_token(app, email="lea@example.org")), Context()))
    lea = answers[-1]["member_id"]
    admin = Actor(camille, tuple(app.own_profile(camille)["roles"]), "75")
    answers.append(app.set_roles(SetRoles(admin, lea, ("organizer",)), Context(actor_id=camille)))
    answers.append(app.resolve_session(session["token"]))
    app.request_password_reset(RequestPasswordReset("camille@example.org"), Context())
    answers.append(app.reset_password(ResetPassword(link_token(app, PasswordResetRequested), "New-password-42"), Context()))
    answers.append(app.resolve_session(session["token"]))  # the reset closed it
    again = app.open_session(OpenSession("camille@example.org", "New-password-42"), Context())
    app.close_session(CloseSession(again["token"]), Context())
    answers += [app.resolve_session(again["token"]), app.own_profile(camille), app.public_profile(lea), app.federations()]
    return answers


def what_the_story_left(app, answers: list) -> dict:
    """The events, the use cases' answers and the read models, canonical."""
    canonical = Canonical()
    with app.read() as conn:
        recorded = app.store.read_all(conn)
        events = [
            (r.position, canonical(r.stream_id), r.version, r.event.event_name, canonical(r.event.__dict__),
             canonical(r.meta.actor_id))
            for r in recorded
        ]
        tables = dump_tables(conn, [*read_models.sorted_tables, throttle_counters])
    answers = canonical(answers)
    canonical.frozen = True
    rows = {name: sorted((canonical(list(row)) for row in found), key=repr) for name, found in tables.items()}
    return {"events": events, "answers": answers, "read models": rows}


def test_a_whole_story_leaves_the_same_events_answers_and_read_models_in_memory_as_on_sqlite(app, migrated_url):
    on_sqlite = MembersApp(Database(migrated_url("members")), SECRET)
    try:
        in_memory_result = what_the_story_left(app, play_the_story(app))
        sqlite_result = what_the_story_left(on_sqlite, play_the_story(on_sqlite))
    finally:
        on_sqlite.db.dispose()
    assert len(in_memory_result["events"]) > 15
    assert {event[3] for event in in_memory_result["events"]} >= {
        "members.MemberRegistered", "members.DuplicateSignUpAttempted", "members.EmailVerified",
        "members.SessionOpened", "members.ProfileUpdated", "members.RolesChanged", "members.PasswordResetCompleted",
        "members.SessionClosed",
    }
    assert in_memory_result == sqlite_result
