"""The members service's entrypoints, with nameko's worker_factory: thin, and passing the call's context through."""
from nameko.testing.services import worker_factory

from members.service import MembersService
from umpnet_kernel.events import Context


def test_entrypoints_hand_the_calls_context_to_the_use_case():
    context = Context(actor_id=None, correlation_id="c-1", source="198.51.100.1", idempotency_key="k-1")
    service = worker_factory(MembersService, context=context)
    service.app.register.return_value = {"status": "pending_verification"}
    assert service.register({"email": "a@example.org"}) == {"status": "pending_verification"}
    service.app.register.assert_called_once_with({"email": "a@example.org"}, context)
    service.reset_password("tok", "New-password-42")
    service.app.reset_password.assert_called_once_with("tok", "New-password-42", context)


def test_set_roles_turns_the_callers_session_into_an_actor():
    service = worker_factory(MembersService)
    service.set_roles({"member_id": "a1", "roles": ["member", "national_admin"], "federation_code": "75"}, "m1", ["organizer"])
    (actor, member_id, roles, context), _ = service.app.set_roles.call_args
    assert (actor.member_id, actor.roles, actor.federation_code) == ("a1", ("member", "national_admin"), "75")
    assert (member_id, roles) == ("m1", ["organizer"])
