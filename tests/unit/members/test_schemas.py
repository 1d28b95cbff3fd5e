"""RPC payloads read into commands: every field the gateway accepts reaches its
command under the same name, and anything else is refused."""
import pytest

from members.commands import UNCHANGED, Register, UpdateProfile
from members.schemas import PayloadMismatch, load
from umpnet_gateway.schemas import ProfileUpdateRequest, SignUpRequest
from umpnet_kernel.errors import DomainError

FULL_SIGN_UP = {
    "email": "camille@example.org", "password": "Correct-horse-9", "first_name": "Camille", "last_name": "Durand",
    "postcode": "69003", "themes": ["europe"], "invitation_token": "invite.mac", "federation_code": "2A",
}


def test_every_field_the_gateway_takes_at_sign_up_reaches_the_command():
    """The gateway took `invitation_token` while the use case read `invited_by`:
    the token was dropped without a word. Now a name must match to pass."""
    payload = SignUpRequest().load(FULL_SIGN_UP)  # what the gateway sends over RPC
    assert set(payload) == set(FULL_SIGN_UP)
    command = load(Register, payload)
    assert command == Register(
        email="camille@example.org", password="Correct-horse-9", postcode="69003", first_name="Camille",
        last_name="Durand", themes=("europe",), federation_code="2A", invitation_token="invite.mac",
    )


def test_every_profile_field_the_gateway_takes_is_a_change_the_command_knows():
    changes = {"first_name": "Cam", "last_name": "D", "postcode": "75011", "federation_code": "75",
               "themes": ["europe"], "bio": "Militante", "blog_url": "https://example.org/blog",
               "map_visible": True, "contact_consent": False, "accepts_contact_requests": False,
               "shown_fields": ["city"], "skills": ["Graphisme"]}
    payload = ProfileUpdateRequest().load(changes, partial=True)
    assert set(payload) == set(ProfileUpdateRequest().fields)
    command = load(UpdateProfile, payload, member_id="m1")
    assert command.changes() == {**changes, "themes": ("europe",), "shown_fields": ("city",), "skills": ("Graphisme",)}


def test_fields_not_given_stay_unchanged_and_none_is_a_value():
    command = load(UpdateProfile, {"blog_url": None}, member_id="m1")
    assert command.changes() == {"blog_url": None} and command.bio is UNCHANGED


@pytest.mark.parametrize("payload,named", [
    ({**FULL_SIGN_UP, "invited_by": "m0"}, "invited_by"),
    ({**FULL_SIGN_UP, "postcode": 69003}, "postcode"),
    ({"email": "camille@example.org", "password": "Correct-horse-9"}, "postcode"),
])
def test_a_payload_that_does_not_fit_is_a_callers_bug_named_by_field_without_its_value(payload, named):
    with pytest.raises(PayloadMismatch) as raised:
        load(Register, payload)
    assert isinstance(raised.value, TypeError) and not isinstance(raised.value, DomainError)
    assert named in str(raised.value) and "camille@example.org" not in str(raised.value)
    with pytest.raises(PayloadMismatch):
        load(Register, ["not", "an", "object"])
