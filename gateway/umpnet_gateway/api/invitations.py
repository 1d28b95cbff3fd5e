"""The JSON API of invitations (API.md "Members and network", issue 8 item 5), kept by the members service.

    POST /api/invitations        {email} -> 201 {id, token, url}; the invitee gets an email
    GET  /api/invitations        my invitations, newest first (sent, accepted)
    GET  /api/invitations/link   my personal, reusable link (an extension of API.md) -> {token, url, facebook_share_url}

The sign-up link is `{PUBLIC_URL}/inscription?invitation=TOKEN`; the sign-up page
carries it into `invitation_token` (POST /api/members takes it the same way). The
invitee's address goes to the members service only: never into a log line or a URL.
"""
from __future__ import annotations

from urllib.parse import urlencode

from umpnet_kernel.config import public_url

from .. import schemas
from ..auth import require_actor
from ..http import api, json_body, json_response
from ..openapi import documented
from .lists import paged

FACEBOOK_SHARER = "https://www.facebook.com/sharer/sharer.php"


def sign_up_url(token: str) -> str:
    return f"{public_url().rstrip('/')}/inscription?{urlencode({'invitation': token})}"


def facebook_share_url(url: str) -> str:
    return f"{FACEBOOK_SHARER}?{urlencode({'u': url})}"


class InvitationsApi:
    """Mixed into the gateway service: `self.services` calls the services."""

    @api("POST", "/api/invitations")
    @documented("Invite someone by email (20 a day; the same address again within 30 days answers the first "
                "invitation, without a second email)", body=schemas.InvitationRequest,
                responses={201: schemas.InvitationCreated}, auth=True)
    def invite(self, request):
        actor, _ = require_actor(self.services, request)
        email = json_body(request, schemas.InvitationRequest)["email"]
        sent = self.services.call("members", "invite", actor["member_id"], email)
        return json_response({"id": sent["invitation_id"], "token": sent["token"], "url": sign_up_url(sent["token"])}, 201)

    @api("GET", "/api/invitations")
    @documented("My invitations, newest first", responses={200: schemas.InvitationList}, auth=True)
    def invitations(self, request):
        actor, _ = require_actor(self.services, request)
        return json_response(paged(self.services, request, "members", "list_invitations", actor["member_id"]))

    @api("GET", "/api/invitations/link")
    @documented("My personal invitation link, reusable, to share (Facebook…)", responses={200: schemas.InvitationLink},
                auth=True)
    def invitation_link(self, request):
        actor, _ = require_actor(self.services, request)
        return json_response(personal_link(self.services, actor))


def personal_link(services, actor) -> dict:
    token = services.call("members", "invitation_link", actor["member_id"])["token"]
    url = sign_up_url(token)
    return {"token": token, "url": url, "facebook_share_url": facebook_share_url(url)}
