"""The site's online trainings pages (French, issue 10 item 6).

    /formations          the courses (members; candidates' courses: candidates and admins), my progress in each
    /formations/{id}     the course: its modules in order, the enrol button, each module's
                         "completed" button (with its quiz), the progress bar, the completion

Every change is a POST form with its CSRF token. Who may do what is the events
service's decision, as on the API.
"""
from __future__ import annotations

from werkzeug.utils import redirect

from umpnet_kernel.errors import DomainError, ValidationFailed

from .. import training_schemas
from ..api.lists import page_or_first
from ..errors import error_answer
from ..http import form_data, load
from .pages import Page, form_errors, page

ANSWER_PREFIX = "answer-"  # a quiz's radio buttons: answer-<question index> = <choice index>


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
                           next_cursor=listed["next_cursor"])

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
                    data = load(training_schemas.CompletionRequest(), {"answers": quiz_answers(posted, module)})
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
