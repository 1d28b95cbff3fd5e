"""The petitions service: its RPC entrypoints, a few lines each: read the
payload into its command, call the use case, answer.

Who asks (actor, roles, federation, source address) comes with the call in
nameko's context data (`CallContext`); domain errors travel back as the
kernel's error types. The payloads are the gateway's (API.md "Petitions").
"""
from __future__ import annotations

import os
from dataclasses import replace

from marshmallow import EXCLUDE, Schema, fields
from nameko.timer import timer

from umpnet_kernel.config import secret_key
from umpnet_kernel.errors import DomainError
from umpnet_kernel.events import Context
from umpnet_kernel.nameko import CallContext, EventSourcing, Operations, rpc, subscribe
from umpnet_kernel.payloads import load

from .application import PetitionsApp
from .commands import ClosePetition, ConfirmSignature, InvalidateSignatures, LaunchPetition, Sign, SignAsMember
from .fraud import SigningLimits

command = rpc(expected_exceptions=DomainError)


def build(db, config) -> PetitionsApp:
    # RATE_LIMIT_SCALE multiplies every signing limit (benchmarks, a petition signed in a hall behind one address)
    scale = float(config.get("RATE_LIMIT_SCALE") or os.environ.get("RATE_LIMIT_SCALE") or 1)
    return PetitionsApp(db, config.get("SECRET_KEY") or secret_key(), SigningLimits().scaled(scale))


# What petitions reads of the members events (docs/events.md): tolerant readers.
class MemberRegistered(Schema):
    class Meta:
        unknown = EXCLUDE

    member_id = fields.String(required=True)
    email = fields.String(required=True)


class MemberErased(Schema):
    class Meta:
        unknown = EXCLUDE

    member_id = fields.String(required=True)


class PetitionsService(Operations):
    name = "petitions"
    app: PetitionsApp = EventSourcing(build)
    context: Context = CallContext()

    # -- petitions ------------------------------------------------------------------
    @command
    def launch(self, data):
        return self.app.launch(load(LaunchPetition, data), self.context)

    @command
    def propose(self, data):
        return self.app.launch(load(LaunchPetition, data), self.context, propose=True)

    @command
    def publish(self, petition_id):
        return self.app.publish(petition_id, self.context)

    @command
    def close(self, petition_id, data):
        return self.app.close(load(ClosePetition, data, petition_id=petition_id), self.context)

    @command
    def get_petition(self, petition_id):
        return self.app.petition(petition_id, self.context)

    @command
    def list_petitions(self, filters, limit=None, cursor=None):
        return self.app.list_petitions(self.context, **filters, limit=limit, cursor=cursor)

    @command
    def breakdown(self, petition_id):
        return self.app.breakdown(petition_id, self.context)

    @command
    def stats(self):
        return self.app.stats()

    # -- signing ----------------------------------------------------------------------
    @command
    def sign(self, petition_id, data):
        return self.app.sign(load(Sign, data, petition_id=petition_id), self.context)

    @command
    def sign_many(self, requests):
        """[{petition_id, data, source}] gathered by the gateway → [{"ok": answer} | {"error": refusal}]."""
        commands = [(load(Sign, r["data"], petition_id=r["petition_id"]), r.get("source")) for r in requests]
        # The call is the gateway's, made by whichever request led the batch: none of the
        # signatures is that request's caller's (their events name no actor).
        anonymous = replace(self.context, actor_id=None, actor_roles=(), actor_federation=None, source=None)
        return self.app.sign_many(commands, anonymous)

    @command
    def sign_as_member(self, petition_id, data):
        return self.app.sign_as_member(load(SignAsMember, data, petition_id=petition_id), self.context)

    @command
    def confirm_signature(self, data):
        return self.app.confirm(load(ConfirmSignature, data), self.context)

    @command
    def confirm_many(self, tokens):
        """[{token}] gathered by the gateway → [{"ok": answer} | {"error": refusal}]."""
        anonymous = replace(self.context, actor_id=None, actor_roles=(), actor_federation=None, source=None)
        return self.app.confirm_many([load(ConfirmSignature, t) for t in tokens], anonymous)

    @command
    def share_token(self, member_id):
        return {"ref": self.app.share_token(member_id)}

    @command
    def signed_by(self, member_id, limit=None, cursor=None):
        return self.app.signed_by(member_id, limit=limit, cursor=cursor)

    # -- admins ---------------------------------------------------------------------------
    @command
    def consenting_signers(self, petition_id, limit=None, cursor=None):
        return self.app.consenting_signers(petition_id, self.context, limit=limit, cursor=cursor)

    @command
    def bursts(self, petition_id, limit=None, cursor=None):
        return self.app.bursts(petition_id, self.context, limit=limit, cursor=cursor)

    @command
    def invalidate(self, petition_id, data):
        return self.app.invalidate(load(InvalidateSignatures, data, petition_id=petition_id), self.context)

    @command
    def export_personal_data(self, member_id):
        return self.app.export_personal_data(member_id)

    # -- what members tell us -------------------------------------------------------------
    @subscribe("members", "members.MemberRegistered", schema=MemberRegistered())
    def on_member_registered(self, incoming):
        self.app.member_registered(incoming)

    @subscribe("members", "members.MemberErased", schema=MemberErased())
    def on_member_erased(self, incoming):
        self.app.member_erased(incoming)

    @timer(interval=60)
    def close_ended(self):
        self.app.close_ended()
        self.app.sweep_milestones()
        self.app.lapse_expired()
