"""The trainings part of the HTTP contract (API.md "Meetings and trainings"): request
bodies checked for shape here (types, lengths from `events.trainings.limits`); what
they mean (who may publish, a module's order, a quiz's answers) is the events service's."""
from __future__ import annotations

from marshmallow import Schema, fields, validate

from events.trainings import limits

from .schemas import Strict, list_of

TITLE = validate.Length(max=limits.TITLE_MAX)  # an empty title: the service says so, with the others
URL = validate.Length(max=limits.URL_MAX)


def _count(maximum: int, minimum: int = 0):
    # The list's length is a count of items: marshmallow's message speaks of characters.
    return validate.Length(min=minimum, max=maximum, error=f"De {minimum} à {maximum} éléments." if minimum
                           else "{max} éléments au plus.")


class QuestionRequest(Strict):
    question = fields.String(required=True, validate=validate.Length(max=limits.QUESTION_MAX))
    choices = fields.List(fields.String(validate=validate.Length(max=limits.CHOICE_MAX)), required=True,
                          validate=_count(limits.CHOICES_MAX, limits.CHOICES_MIN))
    # Required by the events service, which says so with the course's other problems at once.
    answer = fields.Integer(strict=True, allow_none=True,
                            metadata={"description": "index of the correct choice, from 0 (never shown back)"})


class QuizRequest(Strict):
    questions = fields.List(fields.Nested(QuestionRequest), required=True,
                            validate=_count(limits.QUESTIONS_MAX, 1))


class ModuleRequest(Strict):
    title = fields.String(required=True, validate=TITLE)
    body = fields.String(required=True, validate=validate.Length(max=limits.BODY_MAX),
                         metadata={"description": "Markdown"})
    video_url = fields.String(allow_none=True, validate=URL, metadata={"description": "http:// or https://"})
    quiz = fields.Nested(QuizRequest, allow_none=True)


class TrainingRequest(Strict):
    """`POST /api/trainings` (national admins)."""

    class Meta(Strict.Meta):
        multiline = ("description", "modules")  # Markdown texts, a module's body among them

    title = fields.String(required=True, validate=TITLE)
    description = fields.String(load_default="", validate=validate.Length(max=limits.DESCRIPTION_MAX),
                                metadata={"description": "Markdown"})
    candidates_only = fields.Boolean(load_default=False)
    modules = fields.List(fields.Nested(ModuleRequest), required=True, validate=_count(limits.MODULES_MAX))


class CompletionRequest(Strict):
    """Completing a module; its quiz's answers when it has one."""

    answers = fields.List(fields.Integer(strict=True), allow_none=True,
                          validate=_count(limits.QUESTIONS_MAX),
                          metadata={"description": "one choice index per question, in order"})


# -- answers (documentation) -----------------------------------------------------
class QuestionShown(Schema):
    question = fields.String()
    choices = fields.List(fields.String())


class QuizShown(Schema):
    questions = fields.List(fields.Nested(QuestionShown))


class Module(Schema):
    id = fields.String()
    position = fields.Integer(metadata={"description": "from 1: the order modules are completed in"})
    title = fields.String()
    body_html = fields.String(metadata={"description": "rendered from Markdown, sanitised"})
    video_url = fields.String(allow_none=True)
    quiz = fields.Nested(QuizShown, allow_none=True)
    completed = fields.Boolean(metadata={"description": "by the caller"})
    available = fields.Boolean(metadata={"description": "the caller may complete it now (or did)"})


class Enrolment(Schema):
    enrolled_at = fields.String()
    progress = fields.Float(metadata={"description": "modules completed / modules, 0 to 1"})
    completed_modules = fields.List(fields.String())
    completed = fields.Boolean()
    completed_at = fields.String(allow_none=True, metadata={"description": "the completion record"})


class TrainingSummary(Schema):
    id = fields.String()
    title = fields.String()
    description_html = fields.String()
    candidates_only = fields.Boolean()
    module_count = fields.Integer()
    published_at = fields.String()
    enrolled = fields.Boolean()
    progress = fields.Float()
    completed = fields.Boolean()


TrainingList = list_of(TrainingSummary)


class Training(TrainingSummary):
    description = fields.String(metadata={"description": "Markdown"})
    modules = fields.List(fields.Nested(Module))
    next_module_id = fields.String(allow_none=True)
    enrolment = fields.Nested(Enrolment, allow_none=True)


class Completion(Schema):
    training_id = fields.String()
    module_id = fields.String()
    progress = fields.Float()
    completed = fields.Boolean(metadata={"description": "the whole course: its completion is recorded"})
    completed_modules = fields.List(fields.String())


class MyTraining(Enrolment):
    training_id = fields.String()
    title = fields.String()


MyTrainingList = list_of(MyTraining)
