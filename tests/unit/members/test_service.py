"""The members service's entrypoints, with nameko's worker_factory: thin, and passing context through."""
from nameko.testing.services import worker_factory

from members.service import MembersService
from umpnet_kernel.events import Context


def test_entrypoints_hand_the_callers_context_to_the_use_case():
    service = worker_factory(MembersService)
    service.app.register.return_value = {"id": "m1"}
    assert service.register({"email": "a@example.org"}, {"actor_id": None, "correlation_id": "c-1"}) == {"id": "m1"}
    service.app.register.assert_called_once_with({"email": "a@example.org"}, Context(correlation_id="c-1"))


def test_set_roles_turns_the_callers_session_into_an_actor():
    service = worker_factory(MembersService)
    service.set_roles({"member_id": "a1", "roles": ["member", "national_admin"], "federation_code": "75"}, "m1", ["organizer"])
    (actor, member_id, roles, context), _ = service.app.set_roles.call_args
    assert (actor.member_id, actor.roles, actor.federation_code) == ("a1", ("member", "national_admin"), "75")
    assert (member_id, roles) == ("m1", ["organizer"])
