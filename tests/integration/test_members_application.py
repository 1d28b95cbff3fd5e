"""The members use cases on real databases (SQLite and PostgreSQL), no broker needed."""
import pytest

from members.application import MembersApp
from members.projections import members as members_table, read_models
from umpnet_kernel.database import Database
from umpnet_kernel.errors import Conflict, Forbidden, NotFound, RateLimited, Unauthorized, ValidationFailed
from umpnet_kernel.events import Context
from umpnet_kernel.testing import dump_tables

PASSWORD = "Correct-horse-9"


@pytest.fixture(params=["sqlite", "postgresql"])
def app(request, migrated_url):
    db = Database(migrated_url("members", request.param))
    yield MembersApp(db, "test-secret")
    db.dispose()


def register(app, email="camille@example.org", **extra):
    data = {"email": email, "password": PASSWORD, "first_name": "Camille", "last_name": "Durand", "postcode": "69003", **extra}
    return app.register(data, Context())


def verified(app, email="camille@example.org"):
    profile = register(app, email)
    app.verify_email(app.tokens.make(profile["id"], email), Context())
    return profile


def event_count(app):
    with app.read() as conn:
        return app.store.count(conn)


def test_sign_up_answers_the_profile_of_api_md(app):
    profile = register(app, themes=["europe"])
    assert profile["email"] == "camille@example.org"
    assert (profile["postcode"], profile["city"]) == ("69003", "Lyon 03")
    assert profile["federation"] == {"code": "69", "name": "Rhône"}
    assert profile["digital_federation"] is True and profile["email_verified"] is False
    assert profile["themes"] == ["europe"] and profile["roles"] == ["member"]


def test_an_email_registers_once_whatever_its_case_and_a_refusal_writes_nothing(app):
    register(app)
    before = event_count(app)
    with pytest.raises(Conflict) as caught:
        register(app, email="CAMILLE@Example.ORG")
    assert caught.value.fields == {"email": ["Adresse déjà inscrite."]}
    assert event_count(app) == before


@pytest.mark.parametrize("field,value", [("postcode", "00000"), ("themes", ["astrology"]), ("password", "short"),
                                         ("password", "alllowercaseletters"), ("federation_code", "999")])
def test_invalid_sign_ups_name_the_field_and_write_nothing(app, field, value):
    with pytest.raises(ValidationFailed) as caught:
        register(app, **{field: value})
    assert field in caught.value.fields
    assert event_count(app) == 0


def test_a_member_may_choose_another_local_federation(app):
    assert register(app, federation_code="2A")["federation"] == {"code": "2A", "name": "Corse-du-Sud"}


def test_a_forged_or_foreign_token_does_not_verify(app):
    profile = register(app)
    with pytest.raises(ValidationFailed):
        app.verify_email("forged.token.value", Context())
    with pytest.raises(ValidationFailed):
        app.verify_email(app.tokens.make(profile["id"], "someone-else@example.org"), Context())
    with pytest.raises(ValidationFailed):
        app.verify_email(MembersApp(app.db, "another-secret").tokens.make(profile["id"], "camille@example.org"), Context())
    assert app.own_profile(profile["id"])["email_verified"] is False


def test_login_needs_a_verified_address_then_gives_a_token_that_logout_revokes(app):
    profile = register(app)
    with pytest.raises(Forbidden):
        app.open_session("camille@example.org", PASSWORD, Context())
    app.verify_email(app.tokens.make(profile["id"], "camille@example.org"), Context())
    session = app.open_session(" Camille@Example.org ", PASSWORD, Context())
    assert session["member_id"] == profile["id"]
    assert app.resolve_session(session["token"]) == {"member_id": profile["id"], "roles": ["member"], "federation_code": "69"}
    app.close_session(session["token"], Context())
    assert app.resolve_session(session["token"]) is None
    assert app.resolve_session("not-a-token") is None


def test_repeated_failed_logins_are_rate_limited(app):
    verified(app)
    for _ in range(5):
        with pytest.raises(Unauthorized):
            app.open_session("camille@example.org", "Wrong-password-1", Context())
    with pytest.raises(RateLimited):
        app.open_session("camille@example.org", PASSWORD, Context())
    with pytest.raises(Unauthorized):  # unknown addresses look the same as wrong passwords
        app.open_session("nobody@example.org", PASSWORD, Context())


def test_profile_edits_show_in_own_and_public_profiles(app):
    profile = verified(app)
    updated = app.update_profile(profile["id"], {"bio": "Élue locale", "postcode": "33000", "themes": ["sante"]}, Context())
    assert (updated["bio"], updated["city"], updated["federation"]["code"], updated["themes"]) == ("Élue locale", "Bordeaux", "33", ["sante"])
    public = app.public_profile(profile["id"])
    assert "email" not in public and "postcode" not in public and public["display_name"] == "Camille D."
    with pytest.raises(NotFound):
        app.public_profile("no-such-member")


def test_federations_count_their_members_and_the_digital_one_counts_everyone(app):
    register(app)
    register(app, email="lea@example.org", postcode="33000")
    federations = {f["code"]: f for f in app.federations()}
    assert len(federations) == 102
    assert federations["69"]["member_count"] == 1 and federations["33"]["member_count"] == 1
    assert federations["numerique"] == {"code": "numerique", "name": "Fédération numérique", "kind": "digital", "member_count": 2}


def test_rebuilding_gives_back_the_same_read_models(app):
    for n in range(12):
        profile = verified(app, f"m{n}@example.org")
        app.update_profile(profile["id"], {"bio": f"bio {n}"}, Context())
    session = app.open_session("m3@example.org", PASSWORD, Context())
    app.grant_role("m4@example.org", "organizer", Context())
    tables = list(read_models.sorted_tables)
    with app.read() as conn:
        live = dump_tables(conn, tables)
    app.rebuild_read_models()
    with app.read() as conn:
        assert dump_tables(conn, tables) == live
    assert app.resolve_session(session["token"])["member_id"]
    assert members_table.name in live
