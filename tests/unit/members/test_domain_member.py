"""The Member aggregate, given past events, when a command, then new events."""
import pytest

from members.domain.catalogue import NATIONAL_ADMIN
from members.domain.member import Actor, Member, Residence, email_fingerprint
from members.events import (
    EmailVerificationRequested,
    EmailVerified,
    MemberRegistered,
    PasswordSet,
    ProfileUpdated,
    RolesChanged,
)
from umpnet_kernel.errors import Forbidden, ValidationFailed
from umpnet_kernel.testing import given_when_then

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
    assert given_when_then(Member, "m1", [REGISTERED], lambda m: m.request_email_verification("tok")) == [
        EmailVerificationRequested(member_id="m1", email="camille@example.org", first_name="Camille", token="tok")
    ]
    assert given_when_then(Member, "m1", [REGISTERED, EmailVerified(member_id="m1")],
                           lambda m: m.request_email_verification("tok")) == []


def test_verifying_twice_records_it_once():
    assert given_when_then(Member, "m1", [REGISTERED], lambda m: m.verify_email(email_fingerprint("camille@example.org"))) == [
        EmailVerified(member_id="m1")
    ]
    assert given_when_then(Member, "m1", [REGISTERED, EmailVerified(member_id="m1")],
                           lambda m: m.verify_email(email_fingerprint("camille@example.org"))) == []


def test_a_token_made_for_another_address_does_not_verify():
    with pytest.raises(ValidationFailed):
        given_when_then(Member, "m1", [REGISTERED], lambda m: m.verify_email(email_fingerprint("old@example.org")))


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
    assert given_when_then(Member, "m1", [REGISTERED], lambda m: m.set_roles(["organizer", "federation_admin"], by=admin)) == [
        RolesChanged(member_id="m1", roles=("member", "organizer", "federation_admin"))
    ]


def test_a_federation_admin_may_delegate_only_local_roles_in_their_federation():
    local_admin = Actor("a2", ("member", "federation_admin"), "69")
    assert given_when_then(Member, "m1", [REGISTERED], lambda m: m.set_roles(["moderator"], by=local_admin)) == [
        RolesChanged(member_id="m1", roles=("member", "moderator"))
    ]
    with pytest.raises(Forbidden):
        given_when_then(Member, "m1", [REGISTERED], lambda m: m.set_roles(["national_admin"], by=local_admin))
    elsewhere = Actor("a3", ("member", "federation_admin"), "33")
    with pytest.raises(Forbidden):
        given_when_then(Member, "m1", [REGISTERED], lambda m: m.set_roles(["moderator"], by=elsewhere))


def test_a_plain_member_may_not_change_roles_and_unknown_roles_are_refused():
    with pytest.raises(Forbidden):
        given_when_then(Member, "m1", [REGISTERED], lambda m: m.set_roles(["organizer"], by=Actor("m2", ("member",), "69")))
    with pytest.raises(ValidationFailed):
        given_when_then(Member, "m1", [REGISTERED], lambda m: m.set_roles(["emperor"], by=Actor("a", (NATIONAL_ADMIN,), "75")))
