"""The members service: its RPC entrypoints, a few lines each: read the
payload into its command (`schemas.load`), call the use case, answer.

Who asks (actor, source address) and the request's idempotency key come with
the call, in nameko's context data (`CallContext`); domain errors travel back
to the caller as the kernel's error types. The payloads are the gateway's
(API.md): their shape must not change without the gateway's.
"""
from __future__ import annotations

import os

from nameko.timer import timer

from umpnet_kernel.config import secret_key
from umpnet_kernel.errors import DomainError
from umpnet_kernel.events import Context
from umpnet_kernel.nameko import CallContext, EventSourcing, Operations, rpc

from .application import MembersApp
from .commands import (
    AcceptContact,
    CloseSession,
    GrantRole,
    OpenSession,
    Register,
    RemoveContact,
    RequestContact,
    RequestPasswordReset,
    ResendVerification,
    ResetPassword,
    SetRoles,
    UpdateProfile,
    VerifyEmail,
)
from .domain.member import Actor
from .geocoding import PostcodeLocator, geocoder_named
from .schemas import load
from .throttle import RateLimits

command = rpc(expected_exceptions=DomainError)


def build(db, config) -> MembersApp:
    # RATE_LIMIT_SCALE multiplies every rate limit: for a party whose members
    # come through one address (a proxy, a meeting hall), and for benchmarks.
    scale = float(config.get("RATE_LIMIT_SCALE") or os.environ.get("RATE_LIMIT_SCALE") or 1)
    app = MembersApp(db, config.get("SECRET_KEY") or secret_key(), RateLimits().scaled(scale))
    # GEOCODER: who finds a searched postcode on the map (members/geocoding.py); offline by default
    setting = lambda name: config.get(name) or os.environ.get(name) or None  # noqa: E731
    app.postcodes = PostcodeLocator(geocoder_named(setting("GEOCODER"), setting("GEOCODER_DOMAIN"),
                                                   setting("GEOCODER_SCHEME")))
    return app


class MembersService(Operations):
    name = "members"
    app: MembersApp = EventSourcing(build)
    context: Context = CallContext()

    @command
    def register(self, data):
        return self.app.register(load(Register, data), self.context)

    @command
    def verify_email(self, token):
        return self.app.verify_email(VerifyEmail(token), self.context)

    @command
    def resend_verification(self, email):
        self.app.resend_verification(ResendVerification(email), self.context)

    @command
    def request_password_reset(self, email):
        self.app.request_password_reset(RequestPasswordReset(email), self.context)

    @command
    def reset_password(self, token, password):
        return self.app.reset_password(ResetPassword(token, password), self.context)

    @command
    def open_session(self, email, password):
        return self.app.open_session(OpenSession(email, password), self.context)

    @command
    def close_session(self, token):
        self.app.close_session(CloseSession(token), self.context)

    @rpc
    def resolve_session(self, token):
        return self.app.resolve_session(token)

    @command
    def get_own_profile(self, member_id):
        return self.app.own_profile(member_id)

    @command
    def get_public_profile(self, member_id, viewer_id=None):
        # viewer_id: who looks (their session's member), so that an accepted contact sees the email
        return self.app.public_profile(member_id, viewer_id)

    @command
    def update_own_profile(self, member_id, changes):
        return self.app.update_profile(load(UpdateProfile, changes, member_id=member_id), self.context)

    @command
    def set_roles(self, actor, member_id, roles):
        # `actor` is what resolve_session answered for the caller's session
        by = Actor(actor["member_id"], tuple(actor["roles"]), actor["federation_code"])
        return self.app.set_roles(SetRoles(by, member_id, tuple(roles)), self.context)

    @command
    def grant_role(self, email, role):
        return self.app.grant_role(GrantRole(email, role), self.context)

    # Contacts: `member_id` is the caller's (from their session), `other_id` the other member.
    @command
    def request_contact(self, member_id, other_id):
        return self.app.request_contact(RequestContact(member_id, other_id), self.context)

    @command
    def accept_contact(self, member_id, other_id):
        return self.app.accept_contact(AcceptContact(member_id, other_id), self.context)

    @command
    def remove_contact(self, member_id, other_id):
        self.app.remove_contact(RemoveContact(member_id, other_id), self.context)

    @command
    def list_contacts(self, member_id, limit=None, cursor=None):
        return self.app.list_contacts(member_id, limit=limit, cursor=cursor)

    @rpc
    def list_federations(self):
        return self.app.federations()

    @rpc
    def list_themes(self):
        return self.app.themes()

    # -- the map (members/map.py): `query` is {lat, lon, radius_km}, {postcode, radius_km} or {federation}
    @command
    def map_members(self, query, limit=None, cursor=None):
        wanted = {k: query.get(k) for k in ("lat", "lon", "radius_km", "postcode", "federation")}
        return self.app.map_members(**wanted, limit=limit, cursor=cursor)

    @timer(interval=600)
    def prune_expired(self):
        self.app.prune_expired()
