"""A course: published once by a national admin, its modules in the order they are completed.

A module's quiz is a few questions, each with its choices and the index of the
correct one. The answers stay here: the read models keep the questions and the
choices only, so no answer ever leaves the service.
"""
from __future__ import annotations

from dataclasses import dataclass

from umpnet_kernel.aggregate import Aggregate, applies
from umpnet_kernel.errors import Forbidden, NotFound, ValidationFailed

from ...events import TrainingContentWritten, TrainingPublished

CANDIDATE = "candidate"


@dataclass(frozen=True)
class Question:
    question: str
    choices: tuple[str, ...]
    answer: int  # index in `choices` of the correct one


@dataclass(frozen=True)
class Module:
    module_id: str
    title: str
    body: str  # Markdown
    video_url: str | None = None
    quiz: tuple[Question, ...] = ()

    def as_data(self) -> dict:
        quiz = [{"question": q.question, "choices": list(q.choices), "answer": q.answer} for q in self.quiz]
        return {"module_id": self.module_id, "title": self.title, "body": self.body,
                "video_url": self.video_url, "quiz": quiz or None}

    @classmethod
    def from_data(cls, data: dict) -> "Module":
        quiz = tuple(Question(q["question"], tuple(q["choices"]), q["answer"]) for q in data.get("quiz") or ())
        return cls(data["module_id"], data["title"], data["body"], data.get("video_url"), quiz)

    def wrong_answers(self, answers: tuple[int, ...] | None) -> dict[str, list[str]]:
        """What is wrong with these answers to the quiz, per question ({} when all are right).
        Says which questions are wrong, never which choice was right."""
        if not self.quiz:
            return {}
        answers = tuple(answers or ())
        if len(answers) != len(self.quiz):
            return {"answers": [f"Répondez aux {len(self.quiz)} questions du quiz."]}
        wrong = {}
        for n, (question, given) in enumerate(zip(self.quiz, answers)):
            if given != question.answer:
                wrong[f"answers.{n}"] = [f"Question {n + 1} : réponse incorrecte."]
        return wrong


class Training(Aggregate):
    stream_prefix = "training"

    def __init__(self, id: str):
        super().__init__(id)
        self.title = ""
        self.candidates_only = False
        self.modules: tuple[Module, ...] = ()

    @classmethod
    def publish(cls, training_id: str, *, title: str, description: str, candidates_only: bool,
                modules: tuple[Module, ...], published_by: str) -> "Training":
        if not modules:
            raise ValidationFailed("Un cours a au moins un module.", {"modules": ["Ajoutez au moins un module."]})
        training = cls(training_id)
        training._record(TrainingContentWritten(training_id=training_id, description=description,
                                                modules=tuple(m.as_data() for m in modules)))
        training._record(TrainingPublished(training_id=training_id, title=title, candidates_only=candidates_only,
                                           module_ids=tuple(m.module_id for m in modules), published_by=published_by))
        return training

    def open_to(self, roles) -> bool:
        """Whether a member with these roles may enrol (a candidates' course: candidates only)."""
        return not self.candidates_only or CANDIDATE in tuple(roles or ())

    def check_open_to(self, roles) -> None:
        if not self.open_to(roles):
            raise Forbidden("Ce cours est réservé aux candidats.")

    def position_of(self, module_id: str) -> int:
        """The module's place in the course, from 0; NotFound for a module of another course."""
        for n, module in enumerate(self.modules):
            if module.module_id == module_id:
                return n
        raise NotFound("Module introuvable dans ce cours.")

    @applies(TrainingContentWritten)
    def _written(self, e: TrainingContentWritten):
        self.modules = tuple(Module.from_data(m) for m in e.modules)

    @applies(TrainingPublished)
    def _published(self, e: TrainingPublished):
        self.title, self.candidates_only = e.title, e.candidates_only
