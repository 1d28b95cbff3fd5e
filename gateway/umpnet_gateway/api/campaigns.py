"""The JSON API of campaigns (API.md "Mailer"), kept by the mailer service.

    POST /api/campaigns              federation and national admins -> 201 {id, recipient_count}
    GET  /api/campaigns              my campaigns, newest first
    GET  /api/campaigns/{id}         its author -> {status, total, sent, failed, ...}
    POST /api/campaigns/{id}/send    its author -> 202 (409 once sent or sending)

Who may write to whom is the mailer's decision, from the caller's roles and federation
that `auth.require_actor` puts in the call context; another author's campaign is 404.
"""
from __future__ import annotations

from .. import campaign_schemas as schemas
from ..auth import require_actor
from ..http import api, json_body, json_response
from ..openapi import documented
from .lists import paged


class CampaignsApi:
    """Mixed into the gateway service: `self.services` calls the services."""

    @api("POST", "/api/campaigns")
    @documented("Draft a campaign to a segment (admins; a federation admin's stays in their federation): "
                "its recipients are counted now", body=schemas.CampaignRequest,
                responses={201: schemas.CampaignCreated}, auth=True)
    def create_campaign(self, request):
        require_actor(self.services, request)
        data = json_body(request, schemas.CampaignRequest)
        return json_response(self.services.call("mailer", "create_campaign", data), 201)

    @api("GET", "/api/campaigns")
    @documented("My campaigns, newest first", responses={200: schemas.CampaignList}, auth=True)
    def my_campaigns(self, request):
        require_actor(self.services, request)
        return json_response(paged(self.services, request, "mailer", "my_campaigns"))

    @api("GET", "/api/campaigns/<id:campaign_id>")
    @documented("A campaign's status and counts (its author)", responses={200: schemas.CampaignStatus}, auth=True)
    def campaign_status(self, request, campaign_id):
        require_actor(self.services, request)
        return json_response(self.services.call("mailer", "campaign_status", campaign_id))

    @api("POST", "/api/campaigns/<id:campaign_id>/send")
    @documented("Send a campaign (its author): 202, the emails go in the background",
                responses={202: schemas.CampaignStatus}, auth=True)
    def send_campaign(self, request, campaign_id):
        require_actor(self.services, request)
        return json_response(self.services.call("mailer", "send_campaign", campaign_id), 202)
