"""The members service: its RPC entrypoints, a few lines each.

Callers pass a `context` dict ({actor_id, correlation_id}) so events record who
asked. Domain errors travel back to the caller as the kernel's error types.
"""
from __future__ import annotations

from umpnet_kernel.config import secret_key
from umpnet_kernel.errors import DomainError
from umpnet_kernel.events import Context
from umpnet_kernel.nameko import EventSourcing, Operations, rpc

from .application import MembersApp
from .domain.member import Actor

command = rpc(expected_exceptions=DomainError)


def build(db, config) -> MembersApp:
    return MembersApp(db, config.get("SECRET_KEY") or secret_key())


def context_of(context: dict | None) -> Context:
    context = context or {}
    return Context(actor_id=context.get("actor_id"), correlation_id=context.get("correlation_id"))


class MembersService(Operations):
    name = "members"
    app: MembersApp = EventSourcing(build)

    @command
    def register(self, data, context=None):
        return self.app.register(data, context_of(context))

    @command
    def verify_email(self, token, context=None):
        return self.app.verify_email(token, context_of(context))

    @command
    def resend_verification(self, email, context=None):
        self.app.resend_verification(email, context_of(context))

    @command
    def open_session(self, email, password, context=None):
        return self.app.open_session(email, password, context_of(context))

    @command
    def close_session(self, token, context=None):
        self.app.close_session(token, context_of(context))

    @rpc
    def resolve_session(self, token):
        return self.app.resolve_session(token)

    @command
    def get_own_profile(self, member_id):
        return self.app.own_profile(member_id)

    @command
    def get_public_profile(self, member_id):
        return self.app.public_profile(member_id)

    @command
    def update_own_profile(self, member_id, changes, context=None):
        return self.app.update_profile(member_id, changes, context_of(context))

    @command
    def set_roles(self, actor, member_id, roles, context=None):
        actor = Actor(actor["member_id"], tuple(actor["roles"]), actor["federation_code"])
        return self.app.set_roles(actor, member_id, roles, context_of(context))

    @command
    def grant_role(self, email, role, context=None):
        return self.app.grant_role(email, role, context_of(context))

    @rpc
    def list_federations(self):
        return self.app.federations()

    @rpc
    def list_themes(self):
        return self.app.themes()
