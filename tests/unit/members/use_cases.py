"""The members use cases, each test a scenario through `MembersApp`.

Written once, run on every store: tests/unit/members/test_use_cases.py runs
them on the in-memory database (fast, no database), and
tests/integration/test_members_application.py on SQLite and PostgreSQL. Each
of those modules gives the `app` fixture.
"""
import eventlet
import pytest

from members.application import MembersApp
from members.commands import (
    CloseSession,
    GrantRole,
    OpenSession,
    Register,
    RequestPasswordReset,
    ResendVerification,
    ResetPassword,
    SetRoles,
    UpdateProfile,
    VerifyEmail,
)
from members.events import (
    DuplicateSignUpAttempted,
    EmailVerificationRequested,
    PasswordResetRequested,
    RolesChanged,
)
from members.projections import members as members_table, read_models
from umpnet_kernel.errors import Forbidden, NotFound, RateLimited, Unauthorized, ValidationFailed
from umpnet_kernel.events import Context
from umpnet_kernel.testing import dump_tables

PASSWORD = "Correct-horse-9"
SECRET = "test-secret"


def register(app, email="camille@example.org", context=None, **extra):
    fields = {"email": email, "password": PASSWORD, "first_name": "Camille", "last_name": "Durand", "postcode": "69003", **extra}
    return app.register(Register(**fields), context or Context())


def events_of(app, event_type):
    with app.read() as conn:
        return [r.event for r in app.store.read_all(conn) if isinstance(r.event, event_type)]


def link_token(app, event_type=EmailVerificationRequested, email="camille@example.org"):
    """The token the mailer would put in the newest such email to `email`."""
    purpose = "verify-email" if event_type is EmailVerificationRequested else "reset-password"
    event = [e for e in events_of(app, event_type) if e.email.casefold() == email.casefold()][-1]
    return app.links.token(purpose, event.link_nonce)


def member_id_of(app, email="camille@example.org"):
    with app.read() as conn:
        return conn.execute(members_table.select().where(members_table.c.email_lower == email.casefold())).first().member_id


def verified(app, email="camille@example.org"):
    register(app, email)
    app.verify_email(VerifyEmail(link_token(app, email=email)), Context())
    return member_id_of(app, email)


def event_count(app):
    with app.read() as conn:
        return app.store.count(conn)


def test_sign_up_answers_pending_and_the_profile_is_api_mds(app):
    assert register(app, themes=["europe"]) == {"status": "pending_verification"}
    profile = app.own_profile(member_id_of(app))
    assert profile["email"] == "camille@example.org"
    assert (profile["postcode"], profile["city"]) == ("69003", "Lyon 03")
    assert profile["federation"] == {"code": "69", "name": "Rhône"}
    assert profile["digital_federation"] is True and profile["email_verified"] is False
    assert profile["themes"] == ["europe"] and profile["roles"] == ["member"]


def test_signing_up_with_a_registered_address_answers_the_same_and_tells_the_owner(app):
    """Item 7: a 409 "already registered" told anyone who is a party member."""
    first = register(app)
    again = register(app, email="CAMILLE@Example.ORG", password="Another-pass-1")
    assert first == again == {"status": "pending_verification"}
    assert len(events_of(app, EmailVerificationRequested)) == 1
    notices = events_of(app, DuplicateSignUpAttempted)
    assert [(n.email, n.first_name) for n in notices] == [("camille@example.org", "Camille")]
    register(app)  # within the hour: the owner is not told again (no mail bombing)
    assert len(events_of(app, DuplicateSignUpAttempted)) == 1
    with app.read() as conn:
        assert conn.execute(members_table.select()).rowcount != 0
        assert len(conn.execute(members_table.select()).all()) == 1


@pytest.mark.parametrize("field,value", [("postcode", "00000"), ("themes", ["astrology"]), ("password", "short"),
                                         ("password", "alllowercaseletters"), ("federation_code", "999"),
                                         ("first_name", "Ca\x00mille"), ("last_name", "Du\u200brand")])
def test_invalid_sign_ups_name_the_field_and_write_nothing(app, field, value):
    with pytest.raises(ValidationFailed) as caught:
        register(app, **{field: value})
    assert field in caught.value.fields
    assert event_count(app) == 0


@pytest.mark.parametrize("squatter", ["\u212aate@example.org", "ｋａｔｅ@example.org", "KATE@EXAMPLE.ORG"])
def test_look_alike_addresses_are_the_same_account(app, squatter):
    """Item 9: the Kelvin sign or fullwidth letters made a second account that squatted the real one."""
    register(app, email=squatter)
    register(app, email="kate@example.org")
    assert len(events_of(app, EmailVerificationRequested)) == 1
    assert [e.email for e in events_of(app, EmailVerificationRequested)] == [
        "Kate@example.org" if squatter.startswith("\u212a") else "kate@example.org" if "ｋ" in squatter else squatter
    ]
    assert len(events_of(app, DuplicateSignUpAttempted)) == 1


@pytest.mark.parametrize("invisible", ["k\u0430te@example.org", "kate@example.org\u200b", "ka\u200dte@example.org",
                                       "kate@ex\u0430mple.org"])
def test_invisible_and_mixed_script_addresses_are_refused(app, invisible):
    with pytest.raises(ValidationFailed) as caught:
        register(app, email=invisible)
    assert "email" in caught.value.fields
    assert event_count(app) == 0


def test_a_member_may_choose_another_local_federation(app):
    register(app, federation_code="2A")
    assert app.own_profile(member_id_of(app))["federation"] == {"code": "2A", "name": "Corse-du-Sud"}


def test_verification_links_work_once_and_only_with_the_secret_key(app):
    """Item 8: the store held usable tokens; now it holds nonces only, and a link works once."""
    register(app)
    event = events_of(app, EmailVerificationRequested)[0]
    with pytest.raises(ValidationFailed):
        app.verify_email(VerifyEmail(event.link_nonce), Context())  # the stored nonce alone verifies nothing
    with pytest.raises(ValidationFailed):
        app.verify_email(VerifyEmail(MembersApp(app.db, "another-secret").links.token("verify-email", event.link_nonce)), Context())
    with pytest.raises(ValidationFailed):
        app.verify_email(VerifyEmail(app.links.token("reset-password", event.link_nonce)), Context())  # another purpose
    token = link_token(app)
    assert app.verify_email(VerifyEmail(token), Context()) == {"member_id": member_id_of(app), "email_verified": True}
    with pytest.raises(ValidationFailed):
        app.verify_email(VerifyEmail(token), Context())  # single-use
    with pytest.raises(ValidationFailed):
        app.verify_email(VerifyEmail("forged.token"), Context())


def test_no_usable_token_is_stored_anywhere_in_the_database(app):
    register(app)
    token = link_token(app)
    mac = token.split(".")[1]
    with app.read() as conn:
        tables = dump_tables(conn, list(read_models.sorted_tables))
        stored = repr(tables) + repr([(r.event, r.meta) for r in app.store.read_all(conn)])
    assert token not in stored and mac not in stored


def test_a_redelivered_sign_up_answers_its_first_outcome_without_running_again(app):
    """Item 18: killed between commit and reply, the redelivered register ran again (409)."""
    context = Context(idempotency_key="rpc-correlation-1")
    assert register(app, context=context) == {"status": "pending_verification"}
    before = event_count(app)
    assert register(app, context=context) == {"status": "pending_verification"}
    assert event_count(app) == before  # no "account exists" email for the redelivery
    assert events_of(app, DuplicateSignUpAttempted) == []
    register(app, context=Context(idempotency_key="rpc-correlation-2"))  # a real second sign-up
    assert len(events_of(app, DuplicateSignUpAttempted)) == 1


def test_a_redelivered_verification_answers_its_success(app):
    register(app)
    token = link_token(app)
    context = Context(idempotency_key="k-verify")
    first = app.verify_email(VerifyEmail(token), context)
    assert app.verify_email(VerifyEmail(token), context) == first


def test_login_needs_a_verified_address_then_gives_a_token_that_logout_revokes(app):
    register(app)
    with pytest.raises(Forbidden):
        app.open_session(OpenSession("camille@example.org", PASSWORD), Context())
    member_id = verified(app)
    session = app.open_session(OpenSession(" Camille@Example.org ", PASSWORD), Context())
    assert session["member_id"] == member_id
    assert app.resolve_session(session["token"]) == {"member_id": member_id, "roles": ["member"], "federation_code": "69"}
    app.close_session(CloseSession(session["token"]), Context())
    assert app.resolve_session(session["token"]) is None
    assert app.resolve_session("not-a-token") is None


def test_a_stranger_cannot_lock_the_owner_out(app):
    """Item 4: five wrong passwords locked the account, the right password included."""
    verified(app)
    attacker, owner = Context(source="203.0.113.9"), Context(source="198.51.100.7")
    for _ in range(5):
        with pytest.raises(Unauthorized):
            app.open_session(OpenSession("camille@example.org", "Wrong-password-1"), attacker)
    with pytest.raises(RateLimited) as caught:
        app.open_session(OpenSession("camille@example.org", PASSWORD), attacker)
    assert 0 < caught.value.retry_after <= 15 * 60
    assert app.open_session(OpenSession("camille@example.org", PASSWORD), owner)["token"]


def test_one_source_trying_many_addresses_is_throttled(app):
    source = Context(source="203.0.113.10")
    for n in range(20):
        with pytest.raises(Unauthorized):
            app.open_session(OpenSession(f"someone{n}@example.org", "Wrong-password-1"), source)
    with pytest.raises(RateLimited):
        app.open_session(OpenSession("someone-else@example.org", "Wrong-password-1"), source)


def test_parallel_wrong_passwords_get_exactly_the_allowed_tries(app):
    """Item 4: 30 parallel wrong passwords got 13 tries: the counter raced."""
    verified(app)
    source = Context(source="203.0.113.11")
    outcomes = []

    def attempt(_):
        try:
            app.open_session(OpenSession("camille@example.org", "Wrong-password-1"), source)
        except (Unauthorized, RateLimited) as exc:
            outcomes.append(type(exc).__name__)

    list(eventlet.GreenPool(30).imap(attempt, range(30)))
    assert outcomes.count("Unauthorized") == 5 and outcomes.count("RateLimited") == 25


def test_a_distributed_attack_slows_the_account_without_locking_it(app):
    verified(app)
    for n in range(20):
        with pytest.raises(Unauthorized):
            app.open_session(OpenSession("camille@example.org", "Wrong-password-1"), Context(source=f"203.0.113.{n}"))
    assert app.open_session(OpenSession("camille@example.org", PASSWORD), Context(source="198.51.100.1"))["token"]
    with pytest.raises(RateLimited) as caught:  # the next attempt within 2 s waits its turn
        app.open_session(OpenSession("camille@example.org", PASSWORD), Context(source="198.51.100.2"))
    assert caught.value.retry_after <= 2


def test_every_request_that_sends_mail_is_limited_per_address_and_per_source(app):
    """Item 5: 20 resends sent 20 emails."""
    register(app)
    for _ in range(3):
        app.resend_verification(ResendVerification("camille@example.org"), Context(source=f"198.51.100.{_}"))
    with pytest.raises(RateLimited) as caught:
        app.resend_verification(ResendVerification("camille@example.org"), Context(source="198.51.100.99"))
    assert caught.value.retry_after > 0
    assert len(events_of(app, EmailVerificationRequested)) == 4  # sign-up + 3
    source = Context(source="203.0.113.50")
    for n in range(10):
        app.request_password_reset(RequestPasswordReset(f"nobody{n}@example.org"), source)
    with pytest.raises(RateLimited):
        app.request_password_reset(RequestPasswordReset("camille@example.org"), source)
    assert events_of(app, PasswordResetRequested) == []


def test_rate_limits_answer_the_same_for_unknown_addresses(app):
    register(app)
    for email in ("camille@example.org", "nobody@example.org"):
        for _ in range(3):
            app.request_password_reset(RequestPasswordReset(email), Context())
        with pytest.raises(RateLimited):
            app.request_password_reset(RequestPasswordReset(email), Context())


def test_password_reset_works_once_within_the_hour_and_closes_every_session(app):
    member_id = verified(app)
    session = app.open_session(OpenSession("camille@example.org", PASSWORD), Context())
    app.request_password_reset(RequestPasswordReset("Camille@example.org"), Context())
    token = link_token(app, PasswordResetRequested)
    with pytest.raises(ValidationFailed):
        app.reset_password(ResetPassword(token, "short"), Context())
    assert app.reset_password(ResetPassword(token, "New-password-42"), Context()) == {"member_id": member_id}
    assert app.resolve_session(session["token"]) is None
    with pytest.raises(Unauthorized):
        app.open_session(OpenSession("camille@example.org", PASSWORD), Context())
    assert app.open_session(OpenSession("camille@example.org", "New-password-42"), Context())["member_id"] == member_id
    with pytest.raises(ValidationFailed):
        app.reset_password(ResetPassword(token, "Newer-password-43"), Context())  # single-use
    with pytest.raises(ValidationFailed):
        app.reset_password(ResetPassword(link_token(app) if False else "forged.token", "Newer-password-43"), Context())


def test_an_expired_reset_link_is_refused(app, monkeypatch):
    from datetime import datetime, timedelta, timezone

    import members.application as application

    verified(app)
    app.request_password_reset(RequestPasswordReset("camille@example.org"), Context())
    token = link_token(app, PasswordResetRequested)
    later = datetime.now(timezone.utc) + timedelta(hours=1, minutes=1)
    monkeypatch.setattr(application, "_utcnow", lambda: later)
    with pytest.raises(ValidationFailed):
        app.reset_password(ResetPassword(token, "New-password-42"), Context())


def test_a_reset_of_an_unknown_address_sends_nothing(app):
    app.request_password_reset(RequestPasswordReset("nobody@example.org"), Context())
    assert events_of(app, PasswordResetRequested) == []


def test_a_reset_link_proves_the_address(app):
    register(app)
    app.request_password_reset(RequestPasswordReset("camille@example.org"), Context())
    app.reset_password(ResetPassword(link_token(app, PasswordResetRequested), "New-password-42"), Context())
    assert app.own_profile(member_id_of(app))["email_verified"] is True


def test_public_profiles_show_the_display_name_and_only_what_the_member_chose(app):
    """Item 6: the public profile gave the full last name, city and themes, also of unverified members."""
    register(app, email="lea@example.org")
    with pytest.raises(NotFound):
        app.public_profile(member_id_of(app, "lea@example.org"))  # never verified
    member_id = verified(app)
    app.update_profile(UpdateProfile(member_id, bio="Élue locale", themes=("sante",)), Context())
    assert app.public_profile(member_id) == {"id": member_id, "display_name": "Camille D."}
    app.update_profile(UpdateProfile(member_id, shown_fields=("city", "themes")), Context())
    assert app.public_profile(member_id) == {"id": member_id, "display_name": "Camille D.", "city": "Lyon 03",
                                             "themes": ["sante"]}
    with pytest.raises(ValidationFailed):
        app.update_profile(UpdateProfile(member_id, shown_fields=("email",)), Context())
    with pytest.raises(NotFound):
        app.public_profile("no-such-member")


def test_display_names_of_many_members_are_those_of_their_public_profiles_in_one_call(app):
    """The registrants page asked members for each registrant's profile (one RPC each)."""
    camille, lea = verified(app), verified(app, "lea@example.org")
    register(app, email="zoe@example.org")  # never verified: not shown, as public_profile refuses her
    zoe = member_id_of(app, "zoe@example.org")
    names = app.display_names([camille, lea, zoe, "no-such-member", camille])
    assert names == {camille: app.public_profile(camille)["display_name"], lea: app.public_profile(lea)["display_name"]}
    assert app.display_names([]) == {}
    with pytest.raises(ValidationFailed):
        app.display_names("camille")


def test_skills_are_a_short_tidy_list_shown_publicly_only_by_choice(app):
    """Issue 8, item 3: the profile had no skills."""
    member_id = verified(app)
    assert app.own_profile(member_id)["skills"] == []
    updated = app.update_profile(UpdateProfile(member_id, skills=(" Prise  de parole ", "Graphisme", "prise de parole", "")),
                                 Context())
    assert updated["skills"] == ["Prise de parole", "Graphisme"]  # tidied, repeats and blanks dropped
    assert "skills" not in app.public_profile(member_id)
    app.update_profile(UpdateProfile(member_id, shown_fields=("skills",)), Context())
    assert app.public_profile(member_id)["skills"] == ["Prise de parole", "Graphisme"]
    from members.limits import SKILL_MAX, SKILLS_MAX
    for refused in (tuple(f"compétence {n}" for n in range(SKILLS_MAX + 1)), ("x" * (SKILL_MAX + 1),), ("<b>\x00</b>",)):
        with pytest.raises(ValidationFailed) as error:
            app.update_profile(UpdateProfile(member_id, skills=refused), Context())
        assert "skills" in error.value.fields
    assert app.own_profile(member_id)["skills"] == ["Prise de parole", "Graphisme"]


def test_profile_edits_show_in_the_own_profile(app):
    member_id = verified(app)
    updated = app.update_profile(UpdateProfile(member_id, bio="Élue locale", postcode="33000", themes=("sante",)), Context())
    assert (updated["bio"], updated["city"], updated["federation"]["code"], updated["themes"]) == ("Élue locale", "Bordeaux", "33", ["sante"])


def _actor(app, member_id):
    from members.domain.member import Actor

    row = app.own_profile(member_id)
    return Actor(member_id, tuple(row["roles"]), row["federation"]["code"])


def test_a_federation_admin_who_moves_federation_loses_the_admin_role(app):
    """Item 1: an admin of 75 moved to 69, then granted roles there."""
    admin = verified(app, "admin75@example.org")
    app.update_profile(UpdateProfile(admin, postcode="75011"), Context())
    app.grant_role(GrantRole("admin75@example.org", "federation_admin"), Context())
    target = verified(app, "lyon@example.org")  # in 69
    app.update_profile(UpdateProfile(admin, federation_code="69"), Context())
    assert "federation_admin" not in app.own_profile(admin)["roles"]
    with pytest.raises(Forbidden):
        app.set_roles(SetRoles(_actor(app, admin), target, ("moderator", "candidate")), Context())
    assert app.own_profile(target)["roles"] == ["member"]


def test_the_last_national_admin_cannot_be_removed(app):
    """Item 14: a national admin could remove their own last national_admin role."""
    admin = verified(app, "national@example.org")
    app.grant_role(GrantRole("national@example.org", "national_admin"), Context())
    with pytest.raises(ValidationFailed):
        app.set_roles(SetRoles(_actor(app, admin), admin, ("member",)), Context())
    assert "national_admin" in app.own_profile(admin)["roles"]
    other = verified(app, "other@example.org")
    app.set_roles(SetRoles(_actor(app, admin), other, ("national_admin",)), Context())
    app.set_roles(SetRoles(_actor(app, admin), admin, ("member",)), Context())  # two of them: one may step down
    assert app.own_profile(admin)["roles"] == ["member"]


def test_roles_are_changed_by_what_the_author_holds_now_not_what_their_session_said(app):
    """A gateway keeps a resolved session for a few seconds (sessions_cache.py): an admin whose
    role was just taken away may still come with the old roles. Members decides from its own."""
    admin = verified(app, "national@example.org")
    app.grant_role(GrantRole("national@example.org", "national_admin"), Context())
    as_they_were = _actor(app, admin)
    other = verified(app, "other@example.org")
    app.set_roles(SetRoles(as_they_were, other, ("national_admin",)), Context())
    app.set_roles(SetRoles(_actor(app, other), admin, ("member",)), Context())  # taken away
    target = verified(app, "lyon@example.org")
    with pytest.raises(Forbidden):
        app.set_roles(SetRoles(as_they_were, target, ("organizer",)), Context())
    assert app.own_profile(target)["roles"] == ["member"]


def test_every_role_change_records_its_author(app):
    """Issue 8, item 8: a RolesChanged said which roles, never who changed them."""
    admin = verified(app, "national@example.org")
    app.grant_role(GrantRole("national@example.org", "national_admin"), Context())
    target = verified(app, "lyon@example.org")
    app.set_roles(SetRoles(_actor(app, admin), target, ("organizer",)), Context())
    granted, changed = events_of(app, RolesChanged)
    assert granted.changed_by is None  # an operator's `umpnet grant-role`, outside any session
    assert (changed.member_id, changed.roles, changed.changed_by) == (target, ("member", "organizer"), admin)


def test_federations_count_their_members_and_the_digital_one_counts_everyone(app):
    register(app)
    register(app, email="lea@example.org", postcode="33000")
    federations = {f["code"]: f for f in app.federations()}
    assert len(federations) == 102
    assert federations["69"]["member_count"] == 1 and federations["33"]["member_count"] == 1
    assert federations["numerique"] == {"code": "numerique", "name": "Fédération numérique", "kind": "digital", "member_count": 2}


def test_rebuilding_gives_back_the_same_read_models(app):
    for n in range(12):
        member_id = verified(app, f"m{n}@example.org")
        app.update_profile(UpdateProfile(member_id, bio=f"bio {n}", shown_fields=("bio",)), Context())
    register(app, email="pending@example.org")
    app.request_password_reset(RequestPasswordReset("m5@example.org"), Context())
    session = app.open_session(OpenSession("m3@example.org", PASSWORD), Context())
    app.grant_role(GrantRole("m4@example.org", "organizer"), Context())
    tables = list(read_models.sorted_tables)
    with app.read() as conn:
        live = dump_tables(conn, tables)
    app.rebuild_read_models()
    with app.read() as conn:
        assert dump_tables(conn, tables) == live
    assert app.resolve_session(session["token"])["member_id"]
    assert members_table.name in live


def test_housekeeping_drops_ended_windows_and_old_outcomes(app, monkeypatch):
    from datetime import datetime, timedelta, timezone

    import members.application as application
    from members.throttle import throttle_counters
    from umpnet_kernel.idempotency import command_outcomes

    register(app, context=Context(idempotency_key="k1", source="203.0.113.1"))
    with app.read() as conn:
        assert conn.execute(throttle_counters.select()).all() and conn.execute(command_outcomes.select()).all()
    assert app.prune_expired() == 0
    later = datetime.now(timezone.utc) + timedelta(days=2)
    monkeypatch.setattr(application, "_utcnow", lambda: later)
    assert app.prune_expired() == 2
    with app.read() as conn:
        assert not conn.execute(throttle_counters.select()).all() and not conn.execute(command_outcomes.select()).all()
