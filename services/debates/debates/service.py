"""The debates service: its RPC entrypoints, a few lines each: read the payload into its
command, call the use case, answer. The payloads are the gateway's (API.md "Debates").

Who asks (actor, roles, federation) comes with the call (`CallContext`); the members
it needs to know (names, sign-up time, federation, erasure) it learns from the members
events, never by asking at request time.
"""
from __future__ import annotations

import os

from marshmallow import EXCLUDE, Schema, fields

from umpnet_kernel.config import secret_key
from umpnet_kernel.errors import DomainError
from umpnet_kernel.events import Context
from umpnet_kernel.nameko import CallContext, EventSourcing, Operations, rpc, subscribe
from umpnet_kernel.payloads import load

from .application import DebatesApp
from .commands import (
    ChooseReplyNotifications, CloseDebate, EditContribution, Moderate, OpenDebate, PostContribution, Report, Suspend,
    Vote,
)

command = rpc(expected_exceptions=DomainError)


def build(db, config) -> DebatesApp:
    # RATE_LIMIT_SCALE multiplies every posting limit (benchmarks, a workshop in a hall)
    scale = float(config.get("RATE_LIMIT_SCALE") or os.environ.get("RATE_LIMIT_SCALE") or 1)
    return DebatesApp(db, config.get("SECRET_KEY") or secret_key(), scale)


# What debates reads of the members events (docs/events.md): tolerant readers.
class MemberNamed(Schema):
    class Meta:
        unknown = EXCLUDE

    member_id = fields.String(required=True)
    first_name = fields.String(load_default="")
    last_name = fields.String(load_default="")
    federation_code = fields.String(load_default=None, allow_none=True)


class MemberErased(Schema):
    class Meta:
        unknown = EXCLUDE

    member_id = fields.String(required=True)


class DebatesService(Operations):
    name = "debates"
    app: DebatesApp = EventSourcing(build)
    context: Context = CallContext()

    # -- debates ---------------------------------------------------------------------------
    @command
    def open_debate(self, data):
        return self.app.open_debate(load(OpenDebate, data), self.context)

    @command
    def list_debates(self, filters, limit=None, cursor=None):
        return self.app.list_debates(self.context, **filters, limit=limit, cursor=cursor)

    @command
    def get_debate(self, debate_id, sort=None, limit=None, cursor=None):
        return self.app.debate(debate_id, self.context, sort=sort, limit=limit, cursor=cursor)

    @command
    def close_debate(self, debate_id, data):
        return self.app.close(load(CloseDebate, data, debate_id=debate_id), self.context)

    # -- contributions, votes, reports ---------------------------------------------------------
    @command
    def post_contribution(self, debate_id, data):
        return self.app.post(load(PostContribution, data, debate_id=debate_id), self.context)

    @command
    def get_contribution(self, contribution_id):
        return self.app.contribution(contribution_id, self.context)

    @command
    def replies(self, contribution_id, limit=None, cursor=None):
        return self.app.replies(contribution_id, self.context, limit=limit, cursor=cursor)

    @command
    def edit_contribution(self, contribution_id, data):
        return self.app.edit(load(EditContribution, data, contribution_id=contribution_id), self.context)

    @command
    def edit_source(self, contribution_id):
        return self.app.edit_source(contribution_id, self.context)

    @command
    def vote(self, contribution_id, data):
        return self.app.vote(load(Vote, data, contribution_id=contribution_id), self.context)

    @command
    def report(self, contribution_id, data):
        return self.app.report(load(Report, data, contribution_id=contribution_id), self.context)

    # -- moderation ----------------------------------------------------------------------------
    @command
    def moderation_queue(self, limit=None, cursor=None):
        return self.app.moderation_queue(self.context, limit=limit, cursor=cursor)

    @command
    def hide(self, contribution_id, data):
        return self.app.hide(load(Moderate, data, contribution_id=contribution_id), self.context)

    @command
    def restore(self, contribution_id, data):
        return self.app.restore(load(Moderate, data, contribution_id=contribution_id), self.context)

    @command
    def suspend(self, member_id, data):
        return self.app.suspend(load(Suspend, data, member_id=member_id), self.context)

    # -- members' own --------------------------------------------------------------------------
    @command
    def choose_notifications(self, data):
        return self.app.choose_notifications(load(ChooseReplyNotifications, data), self.context)

    @command
    def notifications(self):
        return self.app.notifications(self.context)

    @command
    def debates_of(self, member_id, limit=10):
        return self.app.debates_of(member_id, limit)

    @command
    def export_personal_data(self, member_id):
        return self.app.export_personal_data(member_id)

    # -- what members tell us ----------------------------------------------------------------------
    @subscribe("members", "members.MemberRegistered", schema=MemberNamed())
    def on_member_registered(self, incoming):
        self.app.member_known(incoming, registered=True)

    @subscribe("members", "members.ProfileUpdated", schema=MemberNamed())
    def on_profile_updated(self, incoming):
        self.app.member_known(incoming, registered=False)

    @subscribe("members", "members.MemberErased", schema=MemberErased())
    def on_member_erased(self, incoming):
        self.app.member_erased(incoming)
