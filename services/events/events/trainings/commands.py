"""The trainings' commands: one frozen dataclass per use case, read strictly from the RPC
payload (umpnet_kernel.payloads). Values are checked by the use cases."""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PublishTraining:
    """A national admin's course. Each module: {title, body (Markdown), video_url?, quiz?},
    a quiz being {questions: [{question, choices: [text], answer: index of the right choice}]}."""

    title: str
    modules: tuple[dict, ...]
    description: str = ""
    candidates_only: bool = False


@dataclass(frozen=True)
class Enrol:
    training_id: str


@dataclass(frozen=True)
class CompleteModule:
    training_id: str
    module_id: str
    answers: tuple[int, ...] | None = None  # one choice index per question, in order, for a module with a quiz
