"""The site's online trainings pages (French, issue 10 item 6).

    /formations          the courses (members; candidates' courses: candidates and admins), my progress in each
    /formations/{id}     the course: its modules in order, the enrol button, each module's
                         "completed" button (with its quiz), the progress bar, the completion
    /formations/nouvelle national admins publish a course: up to MODULE_ROWS modules, each quiz
                         written one question a line, `Question ? | choice | *right choice`

Every change is a POST form with its CSRF token. Who may do what is the events
service's decision, as on the API.
"""
from __future__ import annotations

from werkzeug.utils import redirect

from umpnet_kernel.errors import DomainError, ValidationFailed

from events.trainings import limits as training_limits

from .. import training_schemas
from ..api.lists import page_or_first
from ..errors import error_answer
from ..http import form_data, load
from .pages import Page, form_errors, page, templates

# The publishing form shows the limits the events service enforces, from the module that owns them.
templates.globals["training_limits"] = training_limits

ANSWER_PREFIX = "answer-"  # a quiz's radio buttons: answer-<question index> = <choice index>
MODULE_ROWS = 6  # module rows of the publishing form (the API takes more)
MODULE_FIELDS = ("title", "body", "video_url", "quiz")
FIELD_NAMES = {"title": "titre", "body": "texte", "video_url": "lien vidéo", "quiz": "quiz", "description": "présentation",
               "question": "question", "choices": "choix", "answer": "bonne réponse", "questions": "questions"}


def quiz_from_text(text: str) -> dict | None:
    """A quiz written on the form, one question a line: `Question ? | choice | *right choice`
    (the star marks the right one; none: the events service says a right answer is missing)."""
    questions = []
    for line in text.replace("\r\n", "\n").split("\n"):
        parts = [part.strip() for part in line.split("|")]
        if not parts[0]:
            continue
        question = {"question": parts[0], "choices": []}
        for choice in parts[1:]:
            if choice.startswith("*") and "answer" not in question:
                question["answer"] = len(question["choices"])
                choice = choice[1:].strip()
            question["choices"].append(choice)
        questions.append(question)
    return {"questions": questions} if questions else None


def course_from_form(posted) -> tuple[dict, list[int]]:
    """The course a national admin wrote on the form, and the form row of each module sent
    (empty rows are left out)."""
    modules, rows = [], []
    for row in range(MODULE_ROWS):
        values = {name: posted.get(f"module-{row}-{name}", "").replace("\r\n", "\n") for name in MODULE_FIELDS}
        if not any(value.strip() for value in values.values()):
            continue
        modules.append({"title": values["title"].strip(), "body": values["body"],
                        "video_url": values["video_url"].strip() or None, "quiz": quiz_from_text(values["quiz"])})
        rows.append(row)
    course = {"title": posted.get("title", "").strip(), "description": posted.get("description", "").replace("\r\n", "\n"),
              "candidates_only": posted.get("candidates_only") == "1", "modules": modules}
    return course, rows


def error_lines(fields: dict, rows: list[int]) -> list[str]:
    """The refusal's messages, each saying where: "Module 2, titre : Ce champ est obligatoire."."""
    lines = []
    for name, messages in (fields or {}).items():
        parts = name.split(".")
        where = []
        if parts[0] == "modules" and len(parts) > 1 and parts[1].isdigit():
            index = int(parts[1])
            where.append(f"Module {rows[index] + 1 if index < len(rows) else index + 1}")
            parts = parts[2:]
        elif parts[0] == "modules":
            where.append("Modules")
            parts = parts[1:]
        for k, part in enumerate(parts):
            if part.isdigit():
                where.append(f"{'question' if k and parts[k - 1] == 'questions' else 'n°'} {int(part) + 1}")
            elif part != "questions":
                where.append(FIELD_NAMES.get(part, part))
        for message in messages:
            lines.append(f"{', '.join(where)} : {message}" if where else message)
    return lines


def quiz_answers(form, module: dict) -> list[int] | None:
    """The answers a module's quiz form sent, one per question (None: a module without a quiz).
    An unanswered question is an error the page shows beside it."""
    quiz = module.get("quiz")
    if not quiz:
        return None
    answers, missing = [], {}
    for n in range(len(quiz["questions"])):
        value = (form.get(f"{ANSWER_PREFIX}{n}") or "").strip()
        if not value.isdigit():
            missing[f"answers.{n}"] = [f"Question {n + 1} : choisissez une réponse."]
            continue
        answers.append(int(value))
    if missing:
        raise ValidationFailed("Répondez à toutes les questions du quiz.", missing)
    return answers


class TrainingsSite:
    """Mixed into the gateway service (with `SitePages`): `self.services` calls the services."""

    @page("GET", "/formations")
    def trainings_page(self, request):
        page = Page(request)
        actor, _ = self._visitor(request)
        if actor is None:
            return page.finish(redirect("/connexion", code=303))
        wanted = page_or_first(request)
        listed = self.services.call("events", "list_trainings", limit=wanted.limit, cursor=wanted.cursor)
        return page.render("trainings.html", actor=actor, trainings=listed["items"],
                           next_cursor=listed["next_cursor"],
                           may_publish="national_admin" in (actor.get("roles") or ()))

    @page("GET,POST", "/formations/nouvelle")
    def new_training_page(self, request):
        page = Page(request)
        actor, _ = self._visitor(request)
        if actor is None:
            return page.finish(redirect("/connexion", code=303))
        if "national_admin" not in (actor.get("roles") or ()):  # what to show; the service decides, too
            return page.render("error.html", status=403, title="Réservé aux administrateurs nationaux",
                               message="Seuls les administrateurs nationaux publient une formation.")
        values = dict(actor=actor, rows=range(MODULE_ROWS))
        if request.method != "POST":
            return page.render("training_new.html", form={}, errors=None, lines=[], **values)
        posted = form_data(request, multiline=("description", *(f"module-{r}-{n}" for r in range(MODULE_ROWS)
                                                                 for n in ("body", "quiz"))))
        if not page.csrf_ok(posted):
            return self._refuse_forgery(page)
        course, rows = course_from_form(posted)
        try:
            data = load(training_schemas.TrainingRequest, course)
            created = self.services.call("events", "publish_training", data)
        except DomainError as error:
            answer = error_answer(error)
            return page.render("training_new.html", status=answer.status, headers=answer.headers,
                               form=posted.to_dict(), errors=form_errors(error),
                               lines=error_lines(answer.fields, rows), **values)
        return page.finish(redirect(f"/formations/{created['id']}", code=303))

    @page("GET,POST", "/formations/<id:training_id>")
    def training_page(self, request, training_id):
        page = Page(request)
        actor, _ = self._visitor(request)
        if actor is None:
            return page.finish(redirect("/connexion", code=303))
        training = self.services.call("events", "get_training", training_id)
        done, errors, status, headers, failed_module = None, None, 200, None, None
        if request.method == "POST":
            posted = form_data(request)
            if not page.csrf_ok(posted):
                return self._refuse_forgery(page)
            action = posted.get("action")
            try:
                if action == "enrol":
                    self.services.call("events", "enrol", training_id)
                    done = "Vous êtes inscrit : commencez par le premier module."
                elif action == "complete":
                    module_id = (posted.get("module_id") or "")[:64]
                    failed_module = module_id
                    module = next((m for m in training["modules"] if m["id"] == module_id), {})
                    data = load(training_schemas.CompletionRequest, {"answers": quiz_answers(posted, module)})
                    answer = self.services.call("events", "complete_module", training_id, module_id, data)
                    done = ("Bravo, vous avez terminé ce cours !" if answer["completed"]
                            else "Module terminé : passez au suivant.")
                    failed_module = None
                else:
                    raise ValidationFailed("Action inconnue.")
                training = self.services.call("events", "get_training", training_id)
            except DomainError as error:
                answer = error_answer(error)
                errors, status, headers = form_errors(error), answer.status, answer.headers
        if failed_module and not any(m["id"] == failed_module and m["available"] and not m["completed"]
                                     for m in training["modules"]):
            failed_module = None  # no form of its own on the page: the error shows on top
        return page.render("training.html", status=status, headers=headers, actor=actor, training=training,
                           done=done, errors=errors, failed_module=failed_module)
