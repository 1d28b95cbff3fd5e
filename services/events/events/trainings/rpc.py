"""The trainings' RPC methods, mixed into `EventsService` (service.py): a few lines
each: read the payload into its command, call the use case, answer. Who asks comes
with the call (`self.context`, nameko's context data); `self.app` is the events
service's `Application` (its store and every projection, these included)."""
from __future__ import annotations

from marshmallow import EXCLUDE, Schema, fields

from umpnet_kernel.errors import DomainError
from umpnet_kernel.nameko import rpc, subscribe
from umpnet_kernel.payloads import load

from .application import TrainingsUseCases
from .commands import CompleteModule, Enrol, PublishTraining

command = rpc(expected_exceptions=DomainError)


class MemberErased(Schema):
    """What the trainings read of members.MemberErased (docs/events.md): a tolerant reader."""

    class Meta:
        unknown = EXCLUDE

    member_id = fields.String(required=True)


def trainings_personal_data(app, member_id: str) -> dict:
    """The trainings' part of the service's `export_personal_data` answer (for the meetings' to join)."""
    return TrainingsUseCases(app).export_personal_data(member_id)


class TrainingsRpc:
    """Needs `self.app` (EventSourcing) and `self.context` (CallContext) from the service class."""

    @property
    def trainings(self) -> TrainingsUseCases:
        return TrainingsUseCases(self.app)

    @command
    def publish_training(self, data):
        return self.trainings.publish(load(PublishTraining, data), self.context)

    @command
    def list_trainings(self, limit=None, cursor=None):
        return self.trainings.list_trainings(self.context, limit=limit, cursor=cursor)

    @command
    def get_training(self, training_id):
        return self.trainings.training(training_id, self.context)

    @command
    def enrol(self, training_id):
        return self.trainings.enrol(Enrol(training_id), self.context)

    @command
    def complete_module(self, training_id, module_id, data):
        return self.trainings.complete(load(CompleteModule, data, training_id=training_id, module_id=module_id),
                                       self.context)

    @command
    def trainings_of(self, member_id, limit=None, cursor=None):
        return self.trainings.trainings_of(member_id, limit=limit, cursor=cursor)

    @subscribe("members", "members.MemberErased", schema=MemberErased())
    def on_member_erased_trainings(self, incoming):
        self.trainings.member_erased(incoming)
