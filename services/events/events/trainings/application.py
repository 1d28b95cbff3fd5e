"""The trainings' use cases. Framework-free: the RPC mixin (rpc.py) only calls these.

They run on the events service's one `Application` (one store, one outbox, its
projections: the meetings' and these), passed in: `TrainingsUseCases(app)`.
Who may do what is decided here, from the caller's roles as the gateway
authenticated them (`Context.actor_roles`): national admins publish; members
read, enrol and complete; a candidates' course is listed and open to candidates
(and shown to admins).
"""
from __future__ import annotations

import uuid
from urllib.parse import urlsplit

from umpnet_kernel.application import Application, UnitOfWork
from umpnet_kernel.errors import Forbidden, NotFound, ValidationFailed
from umpnet_kernel.events import Context
from umpnet_kernel.messages import IncomingEvent
from umpnet_kernel.paging import PageRequest

from ..access import require_member
from . import projections
from .commands import CompleteModule, Enrol, PublishTraining
from .domain.course import CANDIDATE, Module, Question, Training
from .domain.enrolment import Enrolment, enrolment_id_for
from .domain.trainee import Trainee
from .limits import (
    BODY_MAX, CHOICE_MAX, CHOICES_MAX, CHOICES_MIN, DESCRIPTION_MAX, MODULES_MAX, QUESTION_MAX, QUESTIONS_MAX,
    TITLE_MAX, URL_MAX,
)

NATIONAL_ADMIN, FEDERATION_ADMIN = "national_admin", "federation_admin"
SEES_EVERY_COURSE = (CANDIDATE, NATIONAL_ADMIN, FEDERATION_ADMIN)
CONSUMER = "events.trainings.members"  # processed_messages: the members events read here
REQUIRED = "Ce champ est obligatoire."


class _Problems:
    """The field messages of a refused course, all of them at once (not only the first)."""

    def __init__(self):
        self.fields: dict[str, list[str]] = {}

    def add(self, field: str, message: str) -> None:
        self.fields.setdefault(field, []).append(message)

    def text(self, value, field: str, maximum: int, *, required: bool = True) -> str:
        if value is not None and not isinstance(value, str):
            self.add(field, "Texte attendu.")
            return ""
        text = (value or "").replace("\r\n", "\n").replace("\r", "\n").strip()  # browsers send CRLF
        if required and not text:
            self.add(field, REQUIRED)
        elif len(text) > maximum:
            self.add(field, f"{maximum} caractères au plus.")
        elif any(ord(c) < 32 and c not in "\n\t" for c in text):
            self.add(field, "Caractères non autorisés.")
        return text

    def raise_any(self) -> None:
        if self.fields:
            raise ValidationFailed("Le cours n'a pas pu être publié : corrigez les champs signalés.", self.fields)


def video_url(value, field: str, problems: _Problems) -> str | None:
    """A video link: http or https, with a host; None when absent."""
    if value in (None, ""):
        return None
    if not isinstance(value, str) or len(value) > URL_MAX:
        problems.add(field, f"Une adresse de {URL_MAX} caractères au plus.")
        return None
    url = value.strip()
    try:
        parts = urlsplit(url)
    except ValueError:
        parts = None
    if (parts is None or parts.scheme not in ("http", "https") or not parts.hostname
            or any(c.isspace() or ord(c) < 32 for c in url)):
        problems.add(field, "Une adresse http:// ou https:// valide.")
        return None
    return url


def quiz_of(value, field: str, problems: _Problems) -> tuple[Question, ...]:
    """A module's quiz: {questions: [{question, choices, answer}]} (a bare list of questions too)."""
    if value in (None, {}, []):
        return ()
    questions = value.get("questions") if isinstance(value, dict) else value
    if not isinstance(questions, list) or not questions:
        problems.add(field, "Un quiz a au moins une question.")
        return ()
    if len(questions) > QUESTIONS_MAX:
        problems.add(field, f"{QUESTIONS_MAX} questions au plus.")
        return ()
    quiz = []
    for n, item in enumerate(questions):
        at = f"{field}.questions.{n}"
        if not isinstance(item, dict):
            problems.add(at, "Une question : {question, choices, answer}.")
            continue
        text = problems.text(item.get("question"), f"{at}.question", QUESTION_MAX)
        choices = item.get("choices")
        if not isinstance(choices, list) or not CHOICES_MIN <= len(choices) <= CHOICES_MAX:
            problems.add(f"{at}.choices", f"De {CHOICES_MIN} à {CHOICES_MAX} choix.")
            continue
        choices = tuple(problems.text(c, f"{at}.choices.{k}", CHOICE_MAX) for k, c in enumerate(choices))
        answer = item.get("answer")
        if answer is None:
            problems.add(f"{at}.answer", "Indiquez la bonne réponse (le rang du bon choix, à partir de 0).")
        elif isinstance(answer, bool) or not isinstance(answer, int) or not 0 <= answer < len(choices):
            problems.add(f"{at}.answer", f"Le rang d'un des choix, de 0 à {len(choices) - 1}.")
        else:
            quiz.append(Question(text, choices, answer))
    return tuple(quiz)


def course_modules(items, problems: _Problems) -> tuple[Module, ...]:
    if not items:
        problems.add("modules", "Ajoutez au moins un module.")
        return ()
    if len(items) > MODULES_MAX:
        problems.add("modules", f"{MODULES_MAX} modules au plus.")
        return ()
    built = []
    for n, item in enumerate(items):
        at = f"modules.{n}"
        if not isinstance(item, dict):
            problems.add(at, "Un module : {title, body, video_url, quiz}.")
            continue
        title = problems.text(item.get("title"), f"{at}.title", TITLE_MAX)
        body = problems.text(item.get("body"), f"{at}.body", BODY_MAX)
        url = video_url(item.get("video_url"), f"{at}.video_url", problems)
        quiz = quiz_of(item.get("quiz"), f"{at}.quiz", problems)
        built.append(Module(str(uuid.uuid4()), title, body, url, quiz))
    return tuple(built)


class TrainingsUseCases:
    def __init__(self, app: Application):
        self.app = app

    # -- who may do what ----------------------------------------------------------
    @staticmethod
    def _sees_every_course(context: Context) -> bool:
        return any(role in context.actor_roles for role in SEES_EVERY_COURSE)

    def _visible(self, row: dict | None, context: Context) -> dict:
        if row is None:
            raise NotFound("Cours introuvable.")
        if row["candidates_only"] and not self._sees_every_course(context):
            raise Forbidden("Ce cours est réservé aux candidats.")
        return row

    # -- courses ------------------------------------------------------------------
    def publish(self, command: PublishTraining, context: Context) -> dict:
        actor = require_member(context)
        if NATIONAL_ADMIN not in context.actor_roles:
            raise Forbidden("Seuls les administrateurs nationaux publient un cours.")
        problems = _Problems()
        title = problems.text(command.title, "title", TITLE_MAX)
        description = problems.text(command.description, "description", DESCRIPTION_MAX, required=False)
        modules = course_modules(command.modules, problems)
        problems.raise_any()
        training_id = str(uuid.uuid4())

        def run(uow: UnitOfWork):
            uow.add(Training.publish(training_id, title=title, description=description,
                                     candidates_only=bool(command.candidates_only), modules=modules,
                                     published_by=actor))
            return {"training_id": training_id}

        # A request delivered twice (the same call key) publishes one course: the second
        # answers the first's outcome, the id of the course it published (as meetings' create).
        published = self.app.execute_once(context, "publish_training", run)
        return self.training(published["training_id"], context)

    def training(self, training_id: str, context: Context) -> dict:
        require_member(context)
        with self.app.read() as conn:
            row = self._visible(projections.course_row(conn, training_id), context)
            return projections.course_view(conn, row, context.actor_id)

    def list_trainings(self, context: Context, limit=None, cursor=None) -> dict:
        require_member(context)
        page = PageRequest.parse(limit, cursor)
        with self.app.read() as conn:
            return projections.list_courses(conn, page, context.actor_id, self._sees_every_course(context))

    # -- enrolling and completing ---------------------------------------------------
    def _course(self, uow: UnitOfWork, training_id: str) -> Training:
        training = uow.get(Training, training_id)
        if training is None:
            raise NotFound("Cours introuvable.")
        return training

    def enrol(self, command: Enrol, context: Context) -> dict:
        member_id = require_member(context)

        def run(uow: UnitOfWork):
            training = self._course(uow, command.training_id)
            enrolment_id = enrolment_id_for(training.id, member_id)
            enrolment = uow.get(Enrolment, enrolment_id) or Enrolment(enrolment_id)
            enrolment.enrol(training, member_id, context.actor_roles)
            uow.add(enrolment)

        # a call delivered again after its commit answers the enrolment, not "enrolled already"
        self.app.execute_once(context, "enrol", run)
        return self.training(command.training_id, context)

    def complete(self, command: CompleteModule, context: Context) -> dict:
        """→ {progress, completed (the whole course), module_id, completed_modules}. A module
        completed already answers the same, recording nothing."""
        member_id = require_member(context)

        def run(uow: UnitOfWork):
            training = self._course(uow, command.training_id)
            enrolment_id = enrolment_id_for(training.id, member_id)
            enrolment = uow.get(Enrolment, enrolment_id) or Enrolment(enrolment_id)
            enrolment.complete(training, command.module_id, command.answers)
            return {"training_id": training.id, "module_id": command.module_id,
                    "progress": enrolment.progress(len(training.modules)), "completed": enrolment.finished,
                    "completed_modules": list(enrolment.completed)}

        return self.app.execute(context, run)

    def trainings_of(self, member_id: str, limit=None, cursor=None) -> dict:
        page = PageRequest.parse(limit, cursor)
        with self.app.read() as conn:
            return projections.trainings_of(conn, member_id, page)

    # -- personal data ------------------------------------------------------------------
    def export_personal_data(self, member_id: str) -> dict:
        """What the trainings hold about a member: their enrolments, progress and completions."""
        with self.app.read() as conn:
            return {"training_enrolments": projections.personal_data_of(conn, member_id)}

    def member_erased(self, incoming: IncomingEvent) -> None:
        member_id = incoming.payload["member_id"]

        def run(uow: UnitOfWork):
            if uow.first_delivery(CONSUMER, incoming.event_id):
                trainee = uow.get(Trainee, member_id) or Trainee(member_id)
                trainee.forget()
                uow.add(trainee)

        self.app.execute(incoming.context(), run)
