"""The gateway: HTTP in front of the services. No business rule lives here.

    api/<service>.py   the JSON API of each service's resources (API.md §3); api/lists.py what lists share
    site/<service>.py  the server-rendered site, per service; site/pages.py what pages share; site/home.py
    errors.py          the one mapping of errors to HTTP statuses (API, site and CLI)
    caching.py         public reads kept in memory, invalidated by events, ETag and Cache-Control
    http.py            the web server, JSON bodies and forms
    auth.py            who is calling
    rpc.py             calls to the services, with deadlines
    openapi.py         the generated OpenAPI document

This module composes them: one mixin per service module, and the routes of the
platform itself (`/health`, the OpenAPI document).
"""
from __future__ import annotations

import eventlet

from umpnet_kernel.config import public_url
from umpnet_kernel.manifest import service_names

from .api.blogs import BlogsApi
from .api.campaigns import CampaignsApi
from .api.contacts import ContactsApi
from .api.dashboard import DashboardApi
from .api.debates import DebatesApi
from .api.invitations import InvitationsApi
from .api.meetings import MeetingsApi
from .api.map import MapApi
from .api.members import MembersApi
from .api.petitions import PetitionsApi
from .api.talents import TalentsApi
from .api.trainings import TrainingsApi
from .api.privacy import PrivacyApi
from .caching import PublicCache
from .http import api, json_response
from .openapi import build_spec
from .rpc import ServiceProxies
from .site.admin import AdminSite
from .site.blogs import BlogsSite
from .site.campaigns import CampaignsSite
from .site.contacts import ContactsSite
from .site.debates import DebatesSite
from .site.facebook import FacebookSite
from .site.home import HomeSite
from .site.invitations import InvitationsSite
from .site.map import MapSite
from .site.meetings import MeetingsSite
from .site.members import MembersSite
from .site.petitions import PetitionsSite
from .site.pages import SitePages
from .site.privacy import PrivacySite
from .site.trainings import TrainingsSite
from .site.unsubscribe import UnsubscribeSite


class GatewayService(MembersApi, ContactsApi, DashboardApi, InvitationsApi, TalentsApi, PrivacyApi, MapApi, PetitionsApi, MeetingsApi, DebatesApi, CampaignsApi, BlogsApi, HomeSite,
                     MembersSite, ContactsSite, InvitationsSite, FacebookSite, AdminSite, PrivacySite, MapSite,
                     PetitionsSite, MeetingsSite, DebatesSite, TrainingsApi, TrainingsSite, UnsubscribeSite, CampaignsSite, BlogsSite, SitePages):
    name = "gateway"
    services = ServiceProxies(*service_names())  # every service found by its manifest
    public_cache = PublicCache()

    @api("GET", "/health")
    def health(self, request):
        """Each service's state and the broker's, within ~3 s whatever is down."""

        def check(service):
            try:
                return service, self.services.call(service, "health", timeout=2.0)["status"]
            except Exception:
                return service, "unavailable"

        pool = eventlet.GreenPool()
        states = dict(pool.imap(check, service_names()))
        healthy = all(state == "ok" for state in states.values())
        # Every service answered through the broker: no need to knock on its door.
        broker = "ok" if healthy else self.services.broker_status(timeout=0.8)
        body = {"status": "ok" if healthy else "degraded", "services": states, "broker": broker}
        return json_response(body, 200 if healthy else 503)

    @api("GET", "/api/openapi.json")
    def openapi(self, request):
        return json_response(build_spec(GatewayService, public_url()))
