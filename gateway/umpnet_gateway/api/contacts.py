"""The JSON API of contacts between members (API.md "Members and network"), kept by the members service.

Who acts is the caller's session; the other member is the body's or the path's
`member_id`. Every answer about a pair is what it is to the caller:
"outgoing" (I asked), "incoming" (I was asked), "accepted".
"""
from __future__ import annotations

import uuid

from umpnet_kernel.errors import Forbidden, ValidationFailed

from .. import schemas
from ..auth import require_actor
from ..http import api, json_body, json_response
from ..openapi import documented
from .lists import paged


class ContactRequestsRefused(Forbidden):
    """The member asked does not accept contact requests (their `accepts_contact_requests` is off)."""

    code = "contact_requests_refused"


def member_id_of(value: str) -> str:
    """The path's member id as the services write ids (a lowercase UUID); 400 for anything else."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        message = schemas.MEMBER_ID_MESSAGES["invalid_uuid"]
        raise ValidationFailed(message, {"member_id": [message]}) from None


class ContactsApi:
    """Mixed into the gateway service: `self.services` calls the services."""

    @api("GET", "/api/contacts")
    @documented("My contacts and the requests I sent or received, newest first",
                responses={200: schemas.ContactList}, auth=True)
    def contacts(self, request):
        actor, _ = require_actor(self.services, request)
        return json_response(paged(self.services, request, "members", "list_contacts", actor["member_id"]))

    @api("POST", "/api/contacts")
    @documented("Ask a member to be contacts (asking back someone who asked me accepts their request)",
                body=schemas.ContactRequest, responses={201: schemas.Contact}, auth=True)
    def request_contact(self, request):
        actor, _ = require_actor(self.services, request)
        other_id = str(json_body(request, schemas.ContactRequest)["member_id"])
        try:
            contact = self.services.call("members", "request_contact", actor["member_id"], other_id)
        except Forbidden as refused:
            # The one refusal of a request (the kernel's errors carry no service's own
            # codes across RPC): given a code a client can act on.
            raise ContactRequestsRefused(refused.message, refused.fields) from None
        return json_response(contact, 201)

    @api("POST", "/api/contacts/<id:member_id>/accept")
    @documented("Accept the request this member sent me", responses={200: schemas.Contact}, auth=True)
    def accept_contact(self, request, member_id):
        actor, _ = require_actor(self.services, request)
        return json_response(self.services.call("members", "accept_contact", actor["member_id"], member_id_of(member_id)))

    @api("DELETE", "/api/contacts/<id:member_id>")
    @documented("Remove a contact, withdraw my request, or decline theirs", responses={204: None}, auth=True)
    def remove_contact(self, request, member_id):
        actor, _ = require_actor(self.services, request)
        self.services.call("members", "remove_contact", actor["member_id"], member_id_of(member_id))
        return 204, ""
