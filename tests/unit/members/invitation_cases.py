"""Invitations and provider logins (issue 8 items 5 and 9), each test a scenario through `MembersApp`.

Written once, run on every store: tests/unit/members/test_invitations.py runs
them on the in-memory database, tests/integration/test_members_invitations.py
on SQLite and PostgreSQL. Each of those modules gives the `app` fixture.
"""
from datetime import datetime, timedelta, timezone

import pytest

from members.commands import LogInWithProvider, SendInvitation, UpdateProfile, VerifyEmail
from members.events import (
    ExternalIdentityLinked,
    InvitationAccepted,
    InvitationFollowed,
    InvitationSent,
    MemberRegistered,
)
from members.invitation_projections import forget_member, invitation_links, invitations as invitations_table
from members.projections import read_models
from members.throttle import Limit, RateLimits
from umpnet_kernel.errors import Forbidden, NotFound, RateLimited, ValidationFailed
from umpnet_kernel.events import Context
from umpnet_kernel.testing import dump_tables

from .use_cases import events_of, link_token, member_id_of, register, verified


def member(app, email, first_name):
    member_id = verified(app, email)
    app.update_profile(UpdateProfile(member_id, first_name=first_name, last_name="Martin"), Context())
    return member_id


@pytest.fixture
def camille(app):
    return member(app, "camille@example.org", "Camille")


def invite(app, by, email="lucas@example.org"):
    return app.invite(SendInvitation(by, email), Context(actor_id=by))


def listed(app, member_id, **page):
    return app.list_invitations(member_id, **page)["items"]


def lucas_signs_up_with(app, token, email="lucas@example.org"):
    register(app, email, invitation_token=token, first_name="Lucas", last_name="Martin")
    app.verify_email(VerifyEmail(link_token(app, email=email)), Context())
    return member_id_of(app, email)


def test_an_invitation_is_emailed_with_a_nonce_and_answers_a_signed_token(app, camille):
    answer = invite(app, camille, " Lucas@Example.org ")
    (sent,) = events_of(app, InvitationSent)
    assert (sent.inviter_id, sent.email, sent.inviter_name, sent.emailed) == (camille, "Lucas@Example.org", "Camille M.", True)
    assert answer == {"invitation_id": sent.invitation_id, "token": app.links.token("invitation", sent.link_nonce)}
    with app.read() as conn:  # only its digest is kept
        assert sent.link_nonce not in str(dump_tables(conn, read_models.sorted_tables))
    assert listed(app, camille) == [{"id": sent.invitation_id, "email": "Lucas@Example.org", "via": "email",
                                     "status": "sent", "display_name": None, "sent_at": listed(app, camille)[0]["sent_at"],
                                     "accepted_at": None}]


def test_lucas_signs_up_through_it_and_camille_is_credited_when_he_verifies(app, camille):
    token = invite(app, camille)["token"]
    register(app, "lucas@example.org", invitation_token=token, first_name="Lucas", last_name="Martin")
    registered = [e for e in events_of(app, MemberRegistered) if e.email == "lucas@example.org"][0]
    assert registered.invited_by == camille
    assert events_of(app, InvitationAccepted) == [] and listed(app, camille)[0]["status"] == "sent"
    app.verify_email(VerifyEmail(link_token(app, email="lucas@example.org")), Context())
    lucas = member_id_of(app, "lucas@example.org")
    (accepted,) = events_of(app, InvitationAccepted)
    assert (accepted.inviter_id, accepted.member_id) == (camille, lucas)
    assert accepted.invitation_id == events_of(app, InvitationSent)[0].invitation_id
    (row,) = listed(app, camille)
    assert (row["status"], row["display_name"]) == ("accepted", "Lucas M.")
    assert row["accepted_at"] is not None


def test_an_accepted_invitation_counts_in_the_inviters_talent_score(app, camille):
    from .talent_cases import at_recording_time, scores

    at_recording_time(app)
    lucas_signs_up_with(app, invite(app, camille)["token"])
    score, breakdown = scores(app)[camille]
    assert breakdown["invitations"] == pytest.approx(10.0, abs=0.01)
    # the same sign-up verified again (a reset verifies too) credits nothing more
    app.rebuild_read_models()
    assert scores(app)[camille][1]["invitations"] == pytest.approx(10.0, abs=0.01)


def test_an_invitation_credits_one_sign_up_only(app, camille):
    token = invite(app, camille)["token"]
    lucas_signs_up_with(app, token)
    register(app, "sacha@example.org", invitation_token=token)
    sacha = [e for e in events_of(app, MemberRegistered) if e.email == "sacha@example.org"][0]
    assert sacha.invited_by is None and len(events_of(app, InvitationFollowed)) == 1


@pytest.mark.parametrize("token", ["", "garbage", "a.b", "x" * 400, "nonce.forgedmac", None])
def test_bad_tokens_never_block_a_sign_up(app, camille, token):
    assert register(app, "lucas@example.org", invitation_token=token) == {"status": "pending_verification"}
    assert [e.invited_by for e in events_of(app, MemberRegistered) if e.email == "lucas@example.org"] == [None]
    assert events_of(app, InvitationFollowed) == []


def test_a_verification_token_is_not_an_invitation_token(app, camille):
    """Tokens are bound to their purpose: another link's token credits nobody."""
    register(app, "sacha@example.org")
    other = link_token(app, email="sacha@example.org")
    register(app, "lucas@example.org", invitation_token=other)
    assert [e.invited_by for e in events_of(app, MemberRegistered) if e.email == "lucas@example.org"] == [None]


def test_a_registered_address_signing_up_with_a_token_gets_the_same_answer_and_no_credit(app, camille):
    member(app, "lucas@example.org", "Lucas")
    token = invite(app, camille)["token"]  # the same answer as for anyone: nothing says Lucas is a member
    assert register(app, "lucas@example.org", invitation_token=token) == {"status": "pending_verification"}
    assert events_of(app, InvitationFollowed) == [] and listed(app, camille)[0]["status"] == "sent"


def test_inviting_a_member_answers_as_inviting_anyone(app, camille):
    member(app, "lucas@example.org", "Lucas")
    to_member, to_stranger = invite(app, camille, "lucas@example.org"), invite(app, camille, "nobody@example.org")
    assert set(to_member) == set(to_stranger) == {"invitation_id", "token"}
    assert [e.emailed for e in events_of(app, InvitationSent)] == [True, True]


def test_inviting_the_same_address_again_answers_the_first_invitation_and_sends_no_email(app, camille):
    first = invite(app, camille, "lucas@example.org")
    assert invite(app, camille, "LUCAS@example.org") == first
    assert len(events_of(app, InvitationSent)) == 1 and len(listed(app, camille)) == 1


def test_an_address_gets_a_few_invitation_emails_whoever_sends_them(app):
    inviters = [member(app, f"m{i}@example.org", f"M{i}") for i in range(4)]
    for inviter in inviters:
        invite(app, inviter, "lucas@example.org")
    assert [e.emailed for e in events_of(app, InvitationSent)] == [True, True, True, False]


def test_a_member_without_a_first_name_invites_as_nobody_in_particular(app):
    member_id = verified(app, "anonyme@example.org")
    app.update_profile(UpdateProfile(member_id, first_name=""), Context())
    invite(app, member_id)
    assert events_of(app, InvitationSent)[0].inviter_name == ""


def test_invalid_addresses_are_refused_and_write_nothing(app, camille):
    before = len(events_of(app, InvitationSent))
    for bad in ("not-an-address", "", "lucas@", "lu\u200bcas@example.org"):
        with pytest.raises(ValidationFailed) as caught:
            invite(app, camille, bad)
        assert "email" in caught.value.fields
    assert len(events_of(app, InvitationSent)) == before


def test_an_unverified_member_cannot_invite(app):
    register(app, "camille@example.org")
    with pytest.raises(Forbidden):
        invite(app, member_id_of(app))
    with pytest.raises(Forbidden):
        app.invitation_link(member_id_of(app), Context())
    assert events_of(app, InvitationSent) == []


def test_invitations_are_limited_per_day(app, camille):
    app.limits = RateLimits(invitations_per_member=Limit(2, timedelta(days=1)))
    invite(app, camille, "a@example.org")
    invite(app, camille, "b@example.org")
    with pytest.raises(RateLimited) as caught:
        invite(app, camille, "c@example.org")
    assert caught.value.retry_after > 3600
    assert invite(app, camille, "a@example.org")  # asking again for one already sent is no new invitation
    assert len(events_of(app, InvitationSent)) == 2


def test_an_invitation_refused_over_the_daily_limit_is_no_email_the_address_received(app, camille):
    app.limits = RateLimits(invitations_per_member=Limit(1, timedelta(days=1)))
    invite(app, camille, "a@example.org")
    with pytest.raises(RateLimited):
        invite(app, camille, "lucas@example.org")
    for i in range(3):
        invite(app, member(app, f"m{i}@example.org", f"M{i}"), "lucas@example.org")
    assert [e.emailed for e in events_of(app, InvitationSent) if e.email == "lucas@example.org"] == [True] * 3


def test_an_expired_invitation_credits_nobody(app, camille, monkeypatch):
    token = invite(app, camille)["token"]
    import members.invitations as module

    later = datetime.now(timezone.utc) + timedelta(days=31)
    monkeypatch.setattr(module, "datetime", type("Later", (), {"now": staticmethod(lambda tz=None: later)}))
    import members.application as application

    monkeypatch.setattr(application, "_utcnow", lambda: later)
    register(app, "lucas@example.org", invitation_token=token)
    assert [e.invited_by for e in events_of(app, MemberRegistered) if e.email == "lucas@example.org"] == [None]


def test_the_personal_link_is_reusable_and_credits_each_sign_up(app, camille):
    link = app.invitation_link(camille, Context())
    assert app.invitation_link(camille, Context()) == link  # the same link every time
    assert listed(app, camille) == []
    lucas = lucas_signs_up_with(app, link["token"])
    register(app, "sacha@example.org", invitation_token=link["token"])  # not verified yet: not listed
    accepted = events_of(app, InvitationAccepted)
    assert [(a.inviter_id, a.member_id) for a in accepted] == [(camille, lucas)]
    assert [(i["via"], i["status"], i["email"]) for i in listed(app, camille)] == [("link", "accepted", None)]
    sacha = [e for e in events_of(app, MemberRegistered) if e.email == "sacha@example.org"][0]
    assert sacha.invited_by == camille


def test_the_inviters_list_pages(app, camille):
    for i in range(5):
        invite(app, camille, f"friend{i}@example.org")
    first = app.list_invitations(camille, limit=3)
    second = app.list_invitations(camille, limit=3, cursor=first["next_cursor"])
    emails = [i["email"] for i in first["items"] + second["items"]]
    assert sorted(emails) == [f"friend{i}@example.org" for i in range(5)] and second["next_cursor"] is None


def test_others_do_not_see_my_invitations(app, camille):
    invite(app, camille)
    lucas = member(app, "sacha@example.org", "Sacha")
    assert listed(app, lucas) == []


def test_forgetting_a_member_removes_their_invitations_sent_and_received(app, camille):
    lucas = lucas_signs_up_with(app, invite(app, camille)["token"])
    invite(app, lucas, "sacha@example.org")
    app.invitation_link(lucas, Context())
    invite(app, camille, "other@example.org")
    app.execute(Context(), lambda uow: forget_member(uow.conn, lucas))
    assert [i["email"] for i in listed(app, camille)] == ["other@example.org"]
    assert listed(app, lucas) == []
    with app.read() as conn:
        rows = dump_tables(conn, [invitations_table, invitation_links])
    assert rows["invitation_links"] == [] and "sacha@example.org" not in str(rows["invitations"])


# -- logging in with a provider (Facebook) ---------------------------------------
def facebook(app, email="camille@example.org", verified_by_provider=True, subject="fb-1"):
    return app.log_in_with_provider(LogInWithProvider("facebook", subject, email, verified_by_provider), Context())


def test_a_verified_member_logs_in_with_facebook_and_the_account_is_linked_once(app, camille):
    session = facebook(app)
    assert session["member_id"] == camille and app.resolve_session(session["token"])["member_id"] == camille
    (linked,) = events_of(app, ExternalIdentityLinked)
    assert (linked.provider, linked.account_id, linked.member_id) == ("facebook", "fb-1", camille)
    # Later logins go by the linked account, whatever its address became.
    assert facebook(app, email="changed@example.org", verified_by_provider=False)["member_id"] == camille
    assert len(events_of(app, ExternalIdentityLinked)) == 1


def test_an_address_facebook_does_not_vouch_for_links_nothing(app, camille):
    with pytest.raises(Forbidden) as caught:
        facebook(app, verified_by_provider=False)
    assert "Facebook" in caught.value.message
    with pytest.raises(Forbidden):
        facebook(app, email=None)
    assert events_of(app, ExternalIdentityLinked) == []


def test_a_member_who_did_not_verify_their_address_is_not_linked(app):
    register(app, "camille@example.org")
    with pytest.raises(Forbidden) as caught:
        facebook(app)
    assert "Confirmez" in caught.value.message and events_of(app, ExternalIdentityLinked) == []


def test_no_account_is_created_through_facebook(app):
    with pytest.raises(NotFound) as caught:
        facebook(app, email="stranger@example.org")
    assert "adhérez d'abord" in caught.value.message
    assert events_of(app, MemberRegistered) == [] and events_of(app, ExternalIdentityLinked) == []


def test_an_unknown_provider_is_refused(app, camille):
    with pytest.raises(ValidationFailed):
        app.log_in_with_provider(LogInWithProvider("myspace", "x", "camille@example.org", True), Context())


def test_the_invitations_read_models_rebuild_to_the_same_rows(app, camille):
    from members.invitation_projections import external_identities

    lucas = lucas_signs_up_with(app, invite(app, camille)["token"])
    invite(app, camille, "other@example.org")
    register(app, "sacha@example.org", invitation_token=app.invitation_link(lucas, Context())["token"])
    facebook(app)
    tables = [invitations_table, invitation_links, external_identities]
    with app.read() as conn:
        live = dump_tables(conn, tables)
    assert [len(live[t.name]) for t in tables] == [3, 1, 1]
    app.rebuild_read_models()
    with app.read() as conn:
        assert dump_tables(conn, tables) == live


def test_a_member_cannot_invite_themselves(app, camille):
    with pytest.raises(ValidationFailed) as caught:
        invite(app, camille, "Camille@example.org")
    assert "email" in caught.value.fields and events_of(app, InvitationSent) == []


def test_a_redelivered_invitation_answers_the_same_and_no_store_holds_its_token(app, camille):
    from umpnet_kernel.idempotency import command_outcomes

    redelivered = Context(actor_id=camille, idempotency_key="rpc-1")
    first = app.invite(SendInvitation(camille, "lucas@example.org"), redelivered)
    assert app.invite(SendInvitation(camille, "lucas@example.org"), redelivered) == first
    with app.read() as conn:
        outcomes = str(dump_tables(conn, [command_outcomes]))
        stored = outcomes + str(dump_tables(conn, read_models.sorted_tables))
    assert first["invitation_id"] in outcomes and first["token"] not in stored
