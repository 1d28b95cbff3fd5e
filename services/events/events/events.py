"""The public catalogue of the events service's events (docs/events.md).

Two parts: meetings (and their registrations), then online trainings.
"""
from __future__ import annotations

from dataclasses import dataclass, field  # noqa: F401

from umpnet_kernel.events import DomainEvent, describe  # noqa: F401


# -- meetings and registrations --------------------------------------------------



# (meetings above this line)
#
#
#
#
# (trainings below this line)

# -- online trainings ------------------------------------------------------------

# A course is its own stream (`training-<id>`); a member's enrolment in it too
# (`training-enrolment-<id>`, the id derived from the course and the member, so a
# member enrols in a course once by construction).


@dataclass(frozen=True)
class TrainingContentWritten(DomainEvent, name="events.TrainingContentWritten", public=False):
    """A course's modules as a national admin wrote them, quiz answers included: they
    stay inside the service (recorded just before its `TrainingPublished`)."""

    training_id: str
    description: str = field(metadata=describe("Markdown"))
    modules: tuple[dict, ...] = field(metadata=describe(
        "in order: {module_id, title, body (Markdown), video_url, quiz: null | "
        "[{question, choices: [text], answer: index of the correct choice}]}"))


@dataclass(frozen=True)
class TrainingPublished(DomainEvent, name="events.TrainingPublished", version=1):
    """A national admin published an online course of ordered modules."""

    training_id: str
    title: str
    candidates_only: bool = field(metadata=describe("only members with the candidate role may enrol"))
    module_ids: tuple[str, ...] = field(metadata=describe("the modules, in the order they are completed"))
    published_by: str = field(default="", metadata=describe("member id of the national admin"))


@dataclass(frozen=True)
class TrainingEnrolled(DomainEvent, name="events.TrainingEnrolled", version=1):
    """A member enrolled in a course."""

    training_id: str
    member_id: str


@dataclass(frozen=True)
class ModuleCompleted(DomainEvent, name="events.ModuleCompleted", version=1):
    """An enrolled member completed a module (in order; its quiz, if any, answered right)."""

    training_id: str
    module_id: str
    member_id: str
    completed_count: int = field(default=0, metadata=describe("modules of the course completed so far"))
    module_count: int = field(default=0, metadata=describe("modules in the course"))


@dataclass(frozen=True)
class TrainingCompleted(DomainEvent, name="events.TrainingCompleted", version=1):
    """A member completed the last module of a course: their completion record."""

    training_id: str
    member_id: str
    title: str = field(default="", metadata=describe("the course's title"))


@dataclass(frozen=True)
class TraineeForgotten(DomainEvent, name="events.TraineeForgotten", public=False):
    """The member was erased (members.MemberErased): their enrolments leave the read models."""

    member_id: str
