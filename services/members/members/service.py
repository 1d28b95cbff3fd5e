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
from umpnet_kernel.nameko import CallContext, EventSourcing, Operations, rpc, subscribe

from .application import MembersApp
from .commands import (
    AcceptContact,
    CloseSession,
    EraseMember,
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
from .commands import LogInWithProvider, SendInvitation
from .domain.member import Actor
from .geocoding import PostcodeLocator, geocoder_named
from .schemas import load
from .talent_sources import TalentSources, talent_sources
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

    @rpc
    def resolve_sessions(self, tokens):
        """[token] -> [{"ok": what resolve_session answers}], as the gateway's Gatherer reads them."""
        return [{"ok": answer} for answer in self.app.resolve_sessions(list(tokens))]

    @command
    def get_own_profile(self, member_id):
        return self.app.own_profile(member_id)

    @command
    def get_public_profile(self, member_id, viewer_id=None):
        # viewer_id: who looks (their session's member), so that an accepted contact sees the email
        return self.app.public_profile(member_id, viewer_id)

    @command
    def display_names(self, member_ids):
        return self.app.display_names(member_ids)

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

    # -- invitations and provider logins (invitations.py); `member_id` is the caller's
    @command
    def invite(self, member_id, email):
        return self.app.invite(SendInvitation(member_id, email), self.context)

    @command
    def invitation_link(self, member_id):
        return self.app.invitation_link(member_id, self.context)

    @command
    def list_invitations(self, member_id, limit=None, cursor=None):
        return self.app.list_invitations(member_id, limit=limit, cursor=cursor)

    @command
    def log_in_with_provider(self, provider, subject, email=None, email_verified=False):
        return self.app.log_in_with_provider(LogInWithProvider(provider, subject, email, bool(email_verified)),
                                             self.context)

    # -- talents and the roles form (issue 8 items 7, 8) ------------------------
    # `actor`: what resolve_session answered for the caller's session.
    @command
    def list_talents(self, actor, federation=None, limit=None, cursor=None):
        return self.app.talents(actor, federation, limit=limit, cursor=cursor)

    @command
    def role_choices(self, actor, member_id):
        return self.app.role_choices(actor, member_id)

    @rpc
    def list_federations(self):
        return self.app.federations()

    @rpc
    def list_themes(self):
        return self.app.themes()

    # -- the member's rights over their data (privacy.py) -----------------------
    @command
    def export_personal_data(self, member_id):
        return self.app.export_personal_data(member_id)

    @command
    def erase_member(self, member_id, password=None):
        return self.app.erase_member(EraseMember(member_id, password), self.context)

    # -- the map (members/map.py): `query` is {lat, lon, radius_km}, {postcode, radius_km} or {federation}
    @command
    def map_members(self, query, limit=None, cursor=None):
        wanted = {k: query.get(k) for k in ("lat", "lon", "radius_km", "postcode", "federation")}
        return self.app.map_members(**wanted, limit=limit, cursor=cursor)

    @timer(interval=600)
    def prune_expired(self):
        self.app.prune_expired()


TALENT_EVENT_BATCH = 50  # a viral petition's confirmations come by the thousand a second


def add_talent_subscribers(service_cls, sources: TalentSources = talent_sources):
    """One `@subscribe` handler per other service's event a talent source reads
    (talent_sources.py): registering the source is all it takes. Each handler
    hands the events waiting (up to TALENT_EVENT_BATCH, one transaction) to
    `MembersApp.credit_talents_many`, which credits each once."""
    for event_name in sources.remote_event_names():
        service, _, event = event_name.partition(".")

        def on_talent_event(self, incomings):
            self.app.credit_talents_many(incomings)

        method_name = f"on_talent_{service}_{event}"
        on_talent_event.__name__ = on_talent_event.__qualname__ = method_name
        setattr(service_cls, method_name, subscribe(service, event_name, batch=TALENT_EVENT_BATCH)(on_talent_event))
    return service_cls


add_talent_subscribers(MembersService)
