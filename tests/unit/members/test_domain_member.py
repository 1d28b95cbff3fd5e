"""The Member aggregate, given past events, when a command, then new events."""
from datetime import datetime, timedelta, timezone

import pytest

from members.domain.catalogue import NATIONAL_ADMIN
from members.domain.member import Actor, Member, Residence
from members.events import (
    EmailVerificationRequested,
    EmailVerified,
    MemberRegistered,
    PasswordResetCompleted,
    PasswordResetRequested,
    PasswordSet,
    ProfileUpdated,
    RolesChanged,
)
from umpnet_kernel.errors import Forbidden, ValidationFailed
from umpnet_kernel.testing import given_when_then

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=timezone.utc)
LATER = NOW + timedelta(days=7)
LYON = Residence("69003", "Lyon 03", "69")
REGISTERED = MemberRegistered(
    member_id="m1", email="camille@example.org", first_name="Camille", last_name="Durand",
    postcode="69003", city="Lyon 03", federation_code="69", themes=("europe",),
)


def test_registering_records_the_member_and_their_password_hash():
    member = Member.register("m1", "camille@example.org", "hash", "  Camille ", "Durand", LYON, themes=["europe", "europe"])
    assert member.pending == [REGISTERED, PasswordSet(member_id="m1", password_hash="hash")]


def test_names_can_wait_for_later_but_themes_must_exist():
    member = Member.register("m1", "a@example.org", "hash", "", "", LYON)
    assert member.pending[0].first_name == ""
    with pytest.raises(ValidationFailed) as caught:
        Member.register("m1", "a@example.org", "hash", "", "", LYON, themes=["astrology"])
    assert "themes" in caught.value.fields


def test_a_verification_email_is_requested_until_the_address_is_verified():
    assert given_when_then(Member, "m1", [REGISTERED], lambda m: m.request_email_verification("n1", LATER)) == [
        EmailVerificationRequested(member_id="m1", email="camille@example.org", first_name="Camille",
                                   link_nonce="n1", expires_at=LATER)
    ]
    assert given_when_then(Member, "m1", [REGISTERED, EmailVerified(member_id="m1")],
                           lambda m: m.request_email_verification("n2", LATER)) == []


REQUESTED = EmailVerificationRequested(member_id="m1", email="camille@example.org", first_name="Camille",
                                       link_nonce="n1", expires_at=LATER)


def test_a_verification_link_works_once_before_it_expires():
    assert given_when_then(Member, "m1", [REGISTERED, REQUESTED], lambda m: m.verify_email("n1", NOW)) == [
        EmailVerified(member_id="m1")
    ]
    for history, nonce, now in ([REGISTERED, REQUESTED, EmailVerified(member_id="m1")], "n1", NOW),  \
                               ([REGISTERED, REQUESTED], "n1", LATER), ([REGISTERED, REQUESTED], "other", NOW):
        with pytest.raises(ValidationFailed):
            given_when_then(Member, "m1", history, lambda m: m.verify_email(nonce, now))


def test_a_reset_link_sets_the_password_once_and_proves_the_address():
    asked = PasswordResetRequested(member_id="m1", email="camille@example.org", first_name="Camille",
                                   link_nonce="r1", expires_at=NOW + timedelta(hours=1))
    assert given_when_then(Member, "m1", [REGISTERED, asked], lambda m: m.reset_password("r1", "h2", NOW)) == [
        PasswordResetCompleted(member_id="m1"), PasswordSet(member_id="m1", password_hash="h2"), EmailVerified(member_id="m1")
    ]
    with pytest.raises(ValidationFailed):
        given_when_then(Member, "m1", [REGISTERED, asked, PasswordResetCompleted(member_id="m1")],
                        lambda m: m.reset_password("r1", "h3", NOW))
    with pytest.raises(ValidationFailed):
        given_when_then(Member, "m1", [REGISTERED, asked], lambda m: m.reset_password("r1", "h3", NOW + timedelta(hours=2)))


def test_a_profile_update_records_the_whole_new_profile_and_nothing_when_unchanged():
    (event,) = given_when_then(Member, "m1", [REGISTERED], lambda m: m.update_profile(bio="Militante", map_visible=True))
    assert isinstance(event, ProfileUpdated)
    assert (event.bio, event.map_visible, event.first_name, event.themes) == ("Militante", True, "Camille", ("europe",))
    assert given_when_then(Member, "m1", [REGISTERED], lambda m: m.update_profile(first_name="Camille")) == []


def test_moving_changes_postcode_city_and_federation_together():
    (event,) = given_when_then(Member, "m1", [REGISTERED],
                               lambda m: m.update_profile(residence=Residence("33000", "Bordeaux", "33")))
    assert (event.postcode, event.city, event.federation_code) == ("33000", "Bordeaux", "33")


def test_a_national_admin_may_give_any_role():
    admin = Actor("a1", ("member", NATIONAL_ADMIN), "75")
    assert given_when_then(Member, "m1", [REGISTERED], lambda m: m.set_roles(["organizer", "federation_admin"], by=admin, national_admins=1)) == [
        RolesChanged(member_id="m1", roles=("member", "organizer", "federation_admin"), changed_by="a1")
    ]


def test_a_federation_admin_may_delegate_only_local_roles_in_their_federation():
    local_admin = Actor("a2", ("member", "federation_admin"), "69")
    assert given_when_then(Member, "m1", [REGISTERED], lambda m: m.set_roles(["moderator"], by=local_admin, national_admins=1)) == [
        RolesChanged(member_id="m1", roles=("member", "moderator"), changed_by="a2")
    ]
    with pytest.raises(Forbidden):
        given_when_then(Member, "m1", [REGISTERED], lambda m: m.set_roles(["national_admin"], by=local_admin, national_admins=1))
    elsewhere = Actor("a3", ("member", "federation_admin"), "33")
    with pytest.raises(Forbidden):
        given_when_then(Member, "m1", [REGISTERED], lambda m: m.set_roles(["moderator"], by=elsewhere, national_admins=1))


def test_a_plain_member_may_not_change_roles_and_unknown_roles_are_refused():
    with pytest.raises(Forbidden):
        given_when_then(Member, "m1", [REGISTERED], lambda m: m.set_roles(["organizer"], by=Actor("m2", ("member",), "69"), national_admins=1))
    with pytest.raises(ValidationFailed):
        given_when_then(Member, "m1", [REGISTERED], lambda m: m.set_roles(["emperor"], by=Actor("a", (NATIONAL_ADMIN,), "75"), national_admins=1))


def test_moving_federation_ends_a_federation_admins_authority():
    admin = RolesChanged(member_id="m1", roles=("member", "federation_admin"))
    events = given_when_then(Member, "m1", [REGISTERED, admin],
                             lambda m: m.update_profile(residence=Residence("75011", "Paris 11", "75")))
    assert [type(e) for e in events] == [ProfileUpdated, RolesChanged]
    assert events[1].roles == ("member",) and events[1].changed_by == "m1"  # their own move ended it
    stays = given_when_then(Member, "m1", [REGISTERED, admin], lambda m: m.update_profile(bio="Toujours à Lyon"))
    assert [type(e) for e in stays] == [ProfileUpdated]


def test_the_last_national_admin_keeps_the_role():
    national = RolesChanged(member_id="m1", roles=("member", "national_admin"))
    me = Actor("m1", ("member", NATIONAL_ADMIN), "69")
    with pytest.raises(ValidationFailed):
        given_when_then(Member, "m1", [REGISTERED, national], lambda m: m.set_roles(["member"], by=me, national_admins=1))
    assert given_when_then(Member, "m1", [REGISTERED, national],
                           lambda m: m.set_roles(["member"], by=me, national_admins=2)) == [
        RolesChanged(member_id="m1", roles=("member",), changed_by="m1")
    ]


def test_names_refuse_control_and_invisible_characters():
    for name in ("Ca\x00mille", "Cam\u200bille", "\x07"):
        with pytest.raises(ValidationFailed):
            Member.register("m1", "a@example.org", "hash", name, "", LYON)


def test_accepting_contact_requests_is_on_for_a_new_member_and_apart_from_the_partys_consent():
    (event,) = given_when_then(Member, "m1", [REGISTERED], lambda m: m.update_profile(bio="Militante"))
    assert (event.accepts_contact_requests, event.contact_consent) == (True, False)
    (refusing,) = given_when_then(Member, "m1", [REGISTERED, event],
                                  lambda m: m.update_profile(accepts_contact_requests=False))
    assert (refusing.accepts_contact_requests, refusing.contact_consent) == (False, False)


def test_profiles_stored_at_v1_and_v2_load_as_v3():
    v2 = {k: v for k, v in ProfileUpdated(
        member_id="m1", first_name="Camille", last_name="Durand", postcode="69003", city="Lyon 03",
        federation_code="69", themes=("europe",), bio="", blog_url=None, map_visible=False, contact_consent=True,
        shown_fields=("city",)).to_data().items() if k != "accepts_contact_requests"}
    loaded = ProfileUpdated.from_data(v2, stored_version=2)
    assert (loaded.accepts_contact_requests, loaded.contact_consent, loaded.shown_fields) == (True, True, ("city",))
    v1 = {k: v for k, v in v2.items() if k != "shown_fields"}
    assert ProfileUpdated.from_data(v1, stored_version=1).accepts_contact_requests is True


def test_events_stored_before_skills_and_role_authors_load():
    """Issue 8: ProfileUpdated v3 had no skills, RolesChanged v1 no author."""
    from members.events import ProfileUpdated

    v3 = {"member_id": "m1", "first_name": "Camille", "last_name": "Durand", "postcode": "69003", "city": "Lyon 03",
          "federation_code": "69", "themes": ["europe"], "bio": "", "blog_url": None, "map_visible": False,
          "contact_consent": False, "shown_fields": [], "accepts_contact_requests": True}
    assert ProfileUpdated.from_data(v3, stored_version=3).skills == ()
    v1 = RolesChanged.from_data({"member_id": "m1", "roles": ["member", "organizer"]}, stored_version=1)
    assert (v1.roles, v1.changed_by) == (("member", "organizer"), None)
    (event,) = given_when_then(Member, "m1", [REGISTERED, ProfileUpdated.from_data(v3, stored_version=3), v1],
                               lambda m: m.update_profile(bio="Militante"))
    assert (event.themes, event.skills, event.bio) == (("europe",), (), "Militante")
