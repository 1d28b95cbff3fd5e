"""A member's enrolment in a course: the modules completed, in order, then the completion.

Its id is derived from the course and the member (`enrolment_id_for`): a member
enrols in a course once by construction, and two enrolments at the same moment
race on one stream (the loser is decided again, and finds itself enrolled).
"""
from __future__ import annotations

import uuid

from umpnet_kernel.aggregate import Aggregate, applies
from umpnet_kernel.errors import Conflict, ValidationFailed

from ...events import ModuleCompleted, TrainingCompleted, TrainingEnrolled
from .course import Training

_NAMESPACE = uuid.UUID("5b0e7a4e-1f4c-4d53-9a2e-7d1c3f0a6b21")


def enrolment_id_for(training_id: str, member_id: str) -> str:
    return str(uuid.uuid5(_NAMESPACE, f"{training_id}:{member_id}"))


class Enrolment(Aggregate):
    stream_prefix = "training-enrolment"

    def __init__(self, id: str):
        super().__init__(id)
        self.training_id: str | None = None
        self.member_id: str | None = None
        self.completed: list[str] = []  # module ids, in order
        self.finished = False

    @property
    def enrolled(self) -> bool:
        return self.member_id is not None

    def enrol(self, training: Training, member_id: str, roles) -> None:
        if self.enrolled:
            raise Conflict("Vous êtes déjà inscrit à ce cours.")
        training.check_open_to(roles)
        self._record(TrainingEnrolled(training_id=training.id, member_id=member_id))

    def complete(self, training: Training, module_id: str, answers: tuple[int, ...] | None = None) -> bool:
        """Complete a module: the next one in order, its quiz answered right. True when it
        is new; False for a module completed already (a repeated click records nothing).
        Completing the last module records the completion."""
        position = training.position_of(module_id)
        if not self.enrolled:
            raise Conflict("Inscrivez-vous d'abord à ce cours.")
        if module_id in self.completed:
            return False
        if position != len(self.completed):
            expected = training.modules[len(self.completed)]
            raise Conflict(f"Terminez d'abord le module « {expected.title} ».",
                           {"module_id": [f"Le module suivant est « {expected.title} »."]})
        wrong = training.modules[position].wrong_answers(answers)
        if wrong:
            raise ValidationFailed("Certaines réponses du quiz sont incorrectes : rien n'est enregistré.", wrong)
        count = len(training.modules)
        self._record(ModuleCompleted(training_id=training.id, module_id=module_id, member_id=self.member_id,
                                     completed_count=len(self.completed) + 1, module_count=count))
        if len(self.completed) == count:
            self._record(TrainingCompleted(training_id=training.id, member_id=self.member_id, title=training.title))
        return True

    def progress(self, module_count: int) -> float:
        return round(len(self.completed) / module_count, 4) if module_count else 0.0

    @applies(TrainingEnrolled)
    def _enrolled(self, e: TrainingEnrolled):
        self.training_id, self.member_id = e.training_id, e.member_id

    @applies(ModuleCompleted)
    def _module_completed(self, e: ModuleCompleted):
        self.completed.append(e.module_id)

    @applies(TrainingCompleted)
    def _completed(self, e: TrainingCompleted):
        self.finished = True
