"""The debates service: its RPC entrypoints.

None of its own yet: the operations every service answers (`health`, `status`,
`rebuild_read_models`), on its own database and outbox.
"""
from umpnet_kernel.application import Application
from umpnet_kernel.nameko import EventSourcing, Operations


def build(db, config) -> Application:
    return Application(db)  # no projections yet


class DebatesService(Operations):
    name = "debates"
    app: Application = EventSourcing(build)
