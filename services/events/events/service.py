"""The events service (meetings and trainings): its RPC entrypoints.

None of its own yet: the operations every service answers (`health`, `status`,
`rebuild_read_models`), on its own database and outbox.
"""
from umpnet_kernel.application import Application
from umpnet_kernel.nameko import EventSourcing, Operations


def build(db, config) -> Application:
    return Application(db)  # no projections yet


class EventsService(Operations):
    name = "events"
    app: Application = EventSourcing(build)
