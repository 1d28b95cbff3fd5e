"""Export and erasure (GDPR), scenarios through `MembersApp`.

Written once, run in memory (test_privacy.py here) and on SQLite and PostgreSQL
(tests/integration/test_members_privacy.py); each module gives the `app` fixture.
"""
from datetime import datetime, timedelta, timezone

import eventlet
import pytest
from sqlalchemy import select

from members.commands import (
    AcceptContact,
    EraseMember,
    LogInWithProvider,
    OpenSession,
    RequestContact,
    SendInvitation,
    UpdateProfile,
)
from members.events import EmailVerificationRequested, MemberErased, MemberRegistered, ProfileUpdated
from members.projections import read_models
from members.throttle import throttle_counters
from umpnet_kernel.errors import Forbidden, NotFound, RateLimited, Unauthorized
from umpnet_kernel.events import Context
from umpnet_kernel.idempotency import command_outcomes
from umpnet_kernel.shredding import subject_keys
from umpnet_kernel.testing import dump_tables

from .use_cases import PASSWORD, event_count, events_of, member_id_of, register, verified


def two_contacts(app):
    """Camille and Léa, verified, accepted contacts; Camille edited her profile and logged in."""
    camille = verified(app)
    lea = verified(app, "lea@example.org")
    app.update_profile(UpdateProfile(camille, first_name="Camilla", bio="Militante à Lyon"), Context(actor_id=camille))
    app.request_contact(RequestContact(camille, lea), Context(actor_id=camille))
    app.accept_contact(AcceptContact(lea, camille), Context(actor_id=lea))
    session = app.open_session(OpenSession("camille@example.org", PASSWORD), Context(source="203.0.113.9"))
    return camille, lea, session["token"]


def test_the_export_holds_the_profile_the_contacts_sessions_and_history(app):
    camille, lea, _ = two_contacts(app)
    export = app.export_personal_data(camille)
    assert export["profile"]["email"] == "camille@example.org"
    assert export["profile"]["first_name"] == "Camilla" and export["profile"]["bio"] == "Militante à Lyon"
    assert "$argon2" not in repr(export)  # the hash is named, never given
    assert export["contacts"] == [{"member_id": lea, "display_name": "Camille D.", "status": "accepted",
                                   "since": export["contacts"][0]["since"]}]
    assert len(export["sessions"]) == 1 and export["pending_links"] == []
    types = [e["type"] for e in export["events"]]
    assert types[:3] == ["members.MemberRegistered", "members.PasswordSet", "members.EmailVerificationRequested"]
    registered = export["events"][0]["data"]
    assert registered["email"] == "camille@example.org" and registered["last_name"] == "Durand"
    assert "data" not in export["events"][1]  # PasswordSet: private, by name only
    with pytest.raises(NotFound):
        app.export_personal_data("00000000-0000-4000-8000-000000000000")


def test_the_export_holds_the_contact_requests_either_way(app):
    camille = verified(app)
    lea = verified(app, "lea@example.org")
    sacha = verified(app, "sacha@example.org")
    app.request_contact(RequestContact(camille, lea), Context(actor_id=camille))
    app.request_contact(RequestContact(sacha, camille), Context(actor_id=sacha))
    contacts = {c["member_id"]: c["status"] for c in app.export_personal_data(camille)["contacts"]}
    assert contacts == {lea: "outgoing", sacha: "incoming"}
    assert "lea@example.org" not in repr(app.export_personal_data(camille))  # their addresses are theirs


def test_the_export_holds_the_provider_accounts_linked_never_a_token(app):
    camille = verified(app)
    assert app.export_personal_data(camille)["external_identities"] == []
    session = app.log_in_with_provider(LogInWithProvider("facebook", "fb-1", "camille@example.org", True), Context())
    export = app.export_personal_data(camille)
    [identity] = export["external_identities"]
    assert set(identity) == {"provider", "linked_at"} and identity["provider"] == "facebook"
    assert abs(identity["linked_at"] - datetime.now(timezone.utc)) < timedelta(minutes=1)
    assert session["token"] not in repr(export)


def test_the_export_holds_the_invitations_sent_and_the_personal_link(app):
    camille = verified(app)
    lea = verified(app, "lea@example.org")
    export = app.export_personal_data(camille)
    assert export["invitations"] == [] and export["invitation_link"] is None  # asking issues no link
    sent = app.invite(SendInvitation(camille, "lucas@example.org"), Context(actor_id=camille))
    app.invite(SendInvitation(lea, "sacha@example.org"), Context(actor_id=lea))  # Léa's, not Camille's
    link = app.invitation_link(camille, Context(actor_id=camille))
    export = app.export_personal_data(camille)
    [invitation] = export["invitations"]
    assert {k: invitation[k] for k in ("id", "email", "via", "status", "accepted_at")} == {
        "id": sent["invitation_id"], "email": "lucas@example.org", "via": "email", "status": "sent",
        "accepted_at": None}
    assert timedelta(days=29) < invitation["expires_at"] - invitation["sent_at"] <= timedelta(days=30)
    assert export["invitation_link"] == {"token": link["token"]}
    assert "sacha@example.org" not in repr(export)


def test_the_export_holds_the_talent_score_and_its_breakdown(app):
    camille, lea, _ = two_contacts(app)
    sacha = verified(app, "sacha@example.org")
    assert app.export_personal_data(camille)["talent"] == {"score": 3.0, "breakdown": {"contacts": 3.0}}
    assert app.export_personal_data(sacha)["talent"] == {"score": 0.0, "breakdown": {}}


def test_a_wrong_password_erases_nothing(app):
    camille, _, token = two_contacts(app)
    before = event_count(app)
    with pytest.raises(Forbidden):
        app.erase_member(EraseMember(camille, "Wrong-password-1"), Context(actor_id=camille))
    assert event_count(app) == before
    assert app.own_profile(camille)["email"] == "camille@example.org"
    assert app.resolve_session(token)["member_id"] == camille


def test_parallel_wrong_passwords_at_erasure_get_exactly_the_tries_a_login_gets(app):
    """The password was checked before it was counted: thirty guesses at once all got checked."""
    camille = verified(app)
    source = Context(actor_id=camille, source="203.0.113.12")
    outcomes = []

    def attempt(_):
        try:
            app.erase_member(EraseMember(camille, "Wrong-password-1"), source)
        except (Forbidden, RateLimited) as exc:
            outcomes.append(type(exc).__name__)

    list(eventlet.GreenPool(30).imap(attempt, range(30)))
    assert outcomes.count("Forbidden") == 5 and outcomes.count("RateLimited") == 25
    assert app.own_profile(camille)["email"] == "camille@example.org"


def test_a_wrong_password_at_erasure_is_a_failed_login_attempt(app):
    camille = verified(app)
    source = Context(actor_id=camille, source="203.0.113.13")
    for _ in range(4):
        with pytest.raises(Forbidden):
            app.erase_member(EraseMember(camille, "Wrong-password-1"), source)
    with pytest.raises(Unauthorized):  # the fifth try of this source at this account
        app.open_session(OpenSession("camille@example.org", "Wrong-password-1"), Context(source="203.0.113.13"))
    with pytest.raises(RateLimited) as caught:  # the right password too, from there, for a while
        app.erase_member(EraseMember(camille, PASSWORD), source)
    assert 0 < caught.value.retry_after <= 15 * 60
    with pytest.raises(RateLimited):
        app.open_session(OpenSession("camille@example.org", PASSWORD), Context(source="203.0.113.13"))
    # the owner elsewhere is not locked out
    assert app.erase_member(EraseMember(camille, PASSWORD), Context(actor_id=camille, source="198.51.100.7")) == {
        "status": "erased"}


def test_the_session_alone_erases_without_a_password(app):
    camille, lea, token = two_contacts(app)
    assert app.erase_member(EraseMember(camille), Context(actor_id=camille)) == {"status": "erased"}
    assert app.resolve_session(token) is None
    with pytest.raises(NotFound):
        app.own_profile(camille)
    assert app.list_contacts(lea)["items"] == []


def test_an_erased_member_is_gone_from_every_read_model_and_their_events_are_shredded(app):
    camille, lea, token = two_contacts(app)
    assert app.erase_member(EraseMember(camille, PASSWORD), Context(actor_id=camille)) == {"status": "erased"}
    # gone: the profile, the session, the other member's contacts
    with pytest.raises(NotFound):
        app.own_profile(camille)
    with pytest.raises(NotFound):
        app.public_profile(camille, lea)
    assert app.resolve_session(token) is None
    assert app.list_contacts(lea)["items"] == []
    assert app.public_profile(lea, None)["id"] == lea  # the other member is untouched
    with app.read() as conn:
        assert conn.execute(select(subject_keys.c.subject_id).where(subject_keys.c.subject_id == camille)).all() == []
        assert conn.execute(select(subject_keys.c.subject_id).where(subject_keys.c.subject_id == lea)).all() != []
        outcomes = [row.outcome for row in conn.execute(select(command_outcomes))]
        assert not any(camille in outcome for outcome in outcomes)
    # the events are kept, their personal fields unreadable: placeholders
    [erased] = events_of(app, MemberErased)
    assert erased.member_id == camille
    registered = {e.member_id: e for e in events_of(app, MemberRegistered)}
    assert (registered[camille].email, registered[camille].first_name, registered[camille].last_name) == ("", "", "")
    assert registered[camille].city == "Lyon 03"  # not personal: kept
    assert registered[lea].email == "lea@example.org"
    assert all(e.first_name == "" and e.bio == "" for e in events_of(app, ProfileUpdated) if e.member_id == camille)
    assert all(e.email == "" for e in events_of(app, EmailVerificationRequested) if e.member_id == camille)
    # once only
    with pytest.raises(NotFound):
        app.erase_member(EraseMember(camille, PASSWORD), Context(actor_id=camille))


def test_an_invited_member_erased_is_gone_from_the_invitations_and_the_talents(app):
    from members.commands import SendInvitation, VerifyEmail
    from members.invitation_projections import invitations
    from members.talents import talents

    from .use_cases import link_token

    camille, lea, _ = two_contacts(app)  # contacts: both score
    token = app.invite(SendInvitation(camille, "lucas@example.org"), Context(actor_id=camille))["token"]
    register(app, "lucas@example.org", invitation_token=token, first_name="Lucas", last_name="Martin")
    app.verify_email(VerifyEmail(link_token(app, email="lucas@example.org")), Context())
    lucas = member_id_of(app, "lucas@example.org")
    with app.read() as conn:
        assert len(conn.execute(select(invitations)).all()) == 1
        assert {r.member_id for r in conn.execute(select(talents))} >= {camille, lea}
    app.erase_member(EraseMember(lucas, PASSWORD), Context(actor_id=lucas))
    with app.read() as conn:  # the invitation Lucas received, by his address, is gone
        assert conn.execute(select(invitations)).all() == []
    app.erase_member(EraseMember(camille, PASSWORD), Context(actor_id=camille))
    with app.read() as conn:
        assert camille not in {r.member_id for r in conn.execute(select(talents))}
        assert lea in {r.member_id for r in conn.execute(select(talents))}
    app.rebuild_read_models()
    with app.read() as conn:
        assert camille not in {r.member_id for r in conn.execute(select(talents))}
        assert conn.execute(select(invitations)).all() == []


def test_the_address_of_an_erased_member_signs_up_again_as_a_new_member(app):
    camille, _, _ = two_contacts(app)
    app.erase_member(EraseMember(camille, PASSWORD), Context())
    assert register(app) == {"status": "pending_verification"}
    again = member_id_of(app)
    assert again != camille
    assert app.own_profile(again)["email"] == "camille@example.org"


def test_the_rate_limit_counters_keyed_on_the_member_go_with_them(app):
    camille, _, _ = two_contacts(app)
    with pytest.raises(Exception):
        app.open_session(OpenSession("camille@example.org", "Wrong-password-1"), Context(source="203.0.113.9"))
    with app.read() as conn:
        before = conn.execute(select(throttle_counters.c.key)).scalars().all()
    app.erase_member(EraseMember(camille, PASSWORD), Context())
    with app.read() as conn:
        after = conn.execute(select(throttle_counters.c.key)).scalars().all()
    # the failures of the account and the contact requests it sent are gone;
    # what is keyed on the client's address alone stays
    assert len(after) < len(before)
    assert app.limits.login_failures_per_account and app._key("login-account", "camille@example.org") not in after
    assert app._key("contact-requests", camille) not in after


def test_a_rebuild_after_an_erasure_gives_the_same_rows_and_the_member_stays_gone(app):
    camille, lea, _ = two_contacts(app)
    app.erase_member(EraseMember(camille, PASSWORD), Context())
    register(app, "camille@example.org")  # a new member with the address
    erased_too = verified(app, "noe@example.org")
    app.erase_member(EraseMember(erased_too, PASSWORD), Context())  # two erased members: two placeholder addresses
    with app.read() as conn:
        live = dump_tables(conn, read_models.sorted_tables)
    app.rebuild_read_models()
    with app.read() as conn:
        rebuilt = dump_tables(conn, read_models.sorted_tables)
    assert rebuilt == live
    assert camille not in repr(rebuilt["members"]) and camille not in repr(rebuilt["contacts"])
    assert lea in repr(rebuilt["members"])


def invited_circle(app):
    """Camille invites Lucas (who signs up through it and verifies) and Noé;
    Léa (named "Camille D." too) invites Lucas's address as well (he never follows hers)."""
    from members.commands import SendInvitation

    from .invitation_cases import lucas_signs_up_with

    camille, lea, _ = two_contacts(app)
    invite = lambda by, email: app.invite(SendInvitation(by, email), Context(actor_id=by))  # noqa: E731
    token = invite(camille, "lucas@example.org")["token"]
    invite(lea, "Lucas@example.org")
    invite(camille, "noe@example.org")
    return camille, lea, lucas_signs_up_with(app, token)


def invitations_readable(app):
    """(inviter name, address) of each InvitationSent as the store loads it: "" once shredded."""
    from members.events import InvitationSent

    return sorted((e.inviter_name, e.email) for e in events_of(app, InvitationSent))


def assert_rebuild_gives_the_same_rows(app):
    with app.read() as conn:
        live = dump_tables(conn, read_models.sorted_tables)
    app.rebuild_read_models()
    with app.read() as conn:
        assert dump_tables(conn, read_models.sorted_tables) == live
    return live


def test_each_invitation_is_its_own_subject_shredded_at_the_invitees_then_the_inviters_erasure(app):
    camille, lea, lucas = invited_circle(app)
    assert invitations_readable(app) == [
        ("Camilla D.", "lucas@example.org"), ("Camilla D.", "noe@example.org"), ("Camille D.", "Lucas@example.org")]
    # Lucas erases: the two invitations to his address lose their key (the
    # followed one, and Léa's to the same address in other letters)
    app.erase_member(EraseMember(lucas, PASSWORD), Context(actor_id=lucas))
    assert invitations_readable(app) == [("", ""), ("", ""), ("Camilla D.", "noe@example.org")]
    assert [i["email"] for i in app.list_invitations(camille)["items"]] == ["noe@example.org"]
    assert app.list_invitations(lea)["items"] == []
    live = assert_rebuild_gives_the_same_rows(app)
    assert "lucas" not in repr(live).casefold()
    # Camille erases: the invitation she sent to Noé goes too
    app.erase_member(EraseMember(camille, PASSWORD), Context(actor_id=camille))
    assert invitations_readable(app) == [("", ""), ("", ""), ("", "")]
    live = assert_rebuild_gives_the_same_rows(app)
    assert live["invitations"] == []
    with app.read() as conn:
        assert conn.execute(select(subject_keys.c.subject_id)).scalars().all() == [lea]


def test_the_inviters_erasure_alone_shreds_what_they_sent(app):
    camille, lea, lucas = invited_circle(app)
    app.erase_member(EraseMember(camille, PASSWORD), Context(actor_id=camille))
    assert invitations_readable(app) == [("", ""), ("", ""), ("Camille D.", "Lucas@example.org")]
    assert [i["email"] for i in app.list_invitations(lea)["items"]] == ["Lucas@example.org"]
    assert app.own_profile(lucas)["email"] == "lucas@example.org"
    assert_rebuild_gives_the_same_rows(app)
