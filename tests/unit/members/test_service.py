"""The members service's entrypoints, with nameko's worker_factory: thin, building
each use case's command from the payload and passing the call's context through."""
import pytest
from nameko.testing.services import worker_factory

from members.commands import Register, ResetPassword, SetRoles, UpdateProfile
from members.domain.member import Actor
from members.schemas import PayloadMismatch
from members.service import MembersService
from umpnet_kernel.events import Context

SIGN_UP = {"email": "a@example.org", "password": "Correct-horse-9", "postcode": "69003"}


def test_entrypoints_hand_the_calls_context_to_the_use_case():
    context = Context(actor_id=None, correlation_id="c-1", source="198.51.100.1", idempotency_key="k-1")
    service = worker_factory(MembersService, context=context)
    service.app.register.return_value = {"status": "pending_verification"}
    assert service.register(SIGN_UP) == {"status": "pending_verification"}
    service.app.register.assert_called_once_with(Register("a@example.org", "Correct-horse-9", "69003"), context)
    service.reset_password("tok", "New-password-42")
    service.app.reset_password.assert_called_once_with(ResetPassword("tok", "New-password-42"), context)


def test_set_roles_turns_the_callers_session_into_an_actor():
    service = worker_factory(MembersService)
    service.set_roles({"member_id": "a1", "roles": ["member", "national_admin"], "federation_code": "75"}, "m1", ["organizer"])
    (command, context), _ = service.app.set_roles.call_args
    assert command == SetRoles(Actor("a1", ("member", "national_admin"), "75"), "m1", ("organizer",))


def test_profile_changes_become_a_command_with_only_the_fields_given():
    service = worker_factory(MembersService)
    service.update_own_profile("m1", {"bio": "Militante", "blog_url": None, "themes": ["europe"]})
    (command, _), _ = service.app.update_profile.call_args
    assert command.member_id == "m1"
    assert command.changes() == {"bio": "Militante", "blog_url": None, "themes": ("europe",)}


@pytest.mark.parametrize("payload", [
    {**SIGN_UP, "invited_by": "m0"},  # a name the command does not have: the bug commands catch
    {**SIGN_UP, "themes": "europe"},  # a string for a list
    {"email": "a@example.org", "password": "Correct-horse-9"},  # a required field missing
])
def test_a_sign_up_payload_that_does_not_fit_the_command_fails_loudly_and_runs_nothing(payload):
    service = worker_factory(MembersService)
    with pytest.raises(PayloadMismatch):
        service.register(payload)
    assert not service.app.register.called
    with pytest.raises(PayloadMismatch):
        service.update_own_profile("m1", {"member_id": "m2"})  # nor may changes name another member
    assert not service.app.update_profile.called
