"""What the trainings keep of an erased member: the fact that they are forgotten."""
from __future__ import annotations

from umpnet_kernel.aggregate import Aggregate, applies

from ...events import TraineeForgotten


class Trainee(Aggregate):
    stream_prefix = "trainee"

    def __init__(self, id: str):
        super().__init__(id)
        self.forgotten = False

    def forget(self) -> None:
        if not self.forgotten:
            self._record(TraineeForgotten(member_id=self.id))

    @applies(TraineeForgotten)
    def _forgotten(self, e: TraineeForgotten):
        self.forgotten = True
