"""The contacts entrypoints: the caller's member id and the other's become the command, with the call's context."""
from nameko.testing.services import worker_factory

from members.commands import AcceptContact, RemoveContact, RequestContact
from members.service import MembersService
from umpnet_kernel.events import Context


def test_contact_entrypoints_build_their_commands_and_pass_the_context():
    context = Context(actor_id="m1", correlation_id="c-1", source="198.51.100.1")
    service = worker_factory(MembersService, context=context)
    service.request_contact("m1", "m2")
    service.app.request_contact.assert_called_once_with(RequestContact("m1", "m2"), context)
    service.accept_contact("m1", "m2")
    service.app.accept_contact.assert_called_once_with(AcceptContact("m1", "m2"), context)
    service.remove_contact("m1", "m2")
    service.app.remove_contact.assert_called_once_with(RemoveContact("m1", "m2"), context)
    service.list_contacts("m1", limit=10, cursor=None)
    service.app.list_contacts.assert_called_once_with("m1", limit=10, cursor=None)
    service.get_public_profile("m2", viewer_id="m1")
    service.app.public_profile.assert_called_once_with("m2", "m1")
