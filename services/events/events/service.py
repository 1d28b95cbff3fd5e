"""The events service (meetings and trainings): its RPC entrypoints.

The trainings' RPC methods are those of `trainings.rpc.TrainingsRpc`, mixed in;
with them the operations every service answers (`health`, `status`,
`rebuild_read_models`), on its own database and outbox.
"""
from umpnet_kernel.application import Application
from umpnet_kernel.events import Context
from umpnet_kernel.nameko import CallContext, EventSourcing, Operations

from .trainings.projections import training_projections
from .trainings.rpc import TrainingsRpc, command, trainings_personal_data


def build(db, config) -> Application:
    return Application(db, [*training_projections()])


class EventsService(TrainingsRpc, Operations):
    name = "events"
    app: Application = EventSourcing(build)
    context: Context = CallContext()

    @command
    def export_personal_data(self, member_id):
        return {**trainings_personal_data(self.app, member_id)}
