"""Courses, enrolments and completions: the use cases, with the app of the module that
collects them (in memory in tests/unit, SQLite and PostgreSQL in tests/integration)."""
import uuid
from datetime import datetime, timezone

import pytest

from events.events import ModuleCompleted, TraineeForgotten, TrainingCompleted, TrainingEnrolled, TrainingPublished
from events.service import build
from events.trainings.application import TrainingsUseCases
from events.trainings.commands import CompleteModule, Enrol, PublishTraining
from events.trainings.projections import read_models
from events.trainings.rpc import MemberErased
from umpnet_kernel.errors import Conflict, Forbidden, NotFound, Unauthorized, ValidationFailed
from umpnet_kernel.events import Context
from umpnet_kernel.messages import IncomingEvent
from umpnet_kernel.testing import dump_tables

NATIONAL = Context(actor_id="nat-1", actor_roles=("member", "national_admin"), actor_federation="75")
FED_75 = Context(actor_id="fed-75", actor_roles=("member", "federation_admin"), actor_federation="75")
CANDIDATE = Context(actor_id="cand-1", actor_roles=("member", "candidate"), actor_federation="69")
MEMBER = Context(actor_id="mem-1", actor_roles=("member",), actor_federation="75")
OTHER = Context(actor_id="mem-2", actor_roles=("member",), actor_federation="13")
ANONYMOUS = Context()

QUIZ = {"questions": [{"question": "Quand vote-t-on ?", "choices": ["Le dimanche", "Le lundi"], "answer": 0},
                      {"question": "Combien de tours ?", "choices": ["Un", "Deux", "Trois"], "answer": 1}]}
MODULES = [{"title": "Bienvenue", "body": "# Bonjour\n\nLisez **ceci**. <script>alert(1)</script>"},
           {"title": "Voter", "body": "Le vote.", "video_url": "https://video.example.org/v/1", "quiz": QUIZ},
           {"title": "Conclure", "body": "[Fin](javascript:alert(1))"}]


def build_app(db):
    return build(db, {})


def uses(app):
    return TrainingsUseCases(app)


def publish(app, context=NATIONAL, **changes):
    fields = dict(title="Faire campagne", description="Un cours *en ligne*.", modules=tuple(MODULES))
    fields.update(changes)
    return uses(app).publish(PublishTraining(**fields), context)


def complete(app, training, n, context=MEMBER, answers=None):
    module_id = training["modules"][n]["id"]
    return uses(app).complete(CompleteModule(training["id"], module_id, answers), context)


class Outbox:
    def __init__(self, app):
        self.recorded = []
        app.on_commit(self.recorded.extend)

    def of(self, event_type):
        return [r.event for r in self.recorded if isinstance(r.event, event_type)]


def erased(member_id):
    return IncomingEvent.from_envelope({
        "event_id": str(uuid.uuid4()), "event_type": "members.MemberErased", "schema_version": 1,
        "stream_id": f"member-{member_id}", "stream_version": 3, "position": 9,
        "occurred_at": datetime.now(timezone.utc).isoformat(), "actor_id": None, "correlation_id": None,
        "causation_id": None, "data": {"member_id": member_id}}, MemberErased())


def test_only_national_admins_publish_a_course(app):
    with pytest.raises(Unauthorized):
        publish(app, ANONYMOUS)
    for context in (MEMBER, FED_75, CANDIDATE):
        with pytest.raises(Forbidden):
            publish(app, context)
    outbox = Outbox(app)
    course = publish(app)
    assert [m["title"] for m in course["modules"]] == ["Bienvenue", "Voter", "Conclure"]
    assert [m["position"] for m in course["modules"]] == [1, 2, 3]
    published, = outbox.of(TrainingPublished)
    assert published.module_ids == tuple(m["id"] for m in course["modules"]) and not published.candidates_only


def test_module_texts_are_rendered_and_sanitised(app):
    course = publish(app)
    first, second, last = course["modules"]
    assert "<h1>Bonjour</h1>" in first["body_html"] and "<strong>ceci</strong>" in first["body_html"]
    assert "<script>" not in first["body_html"] and "href=\"javascript" not in last["body_html"]
    assert "<em>en ligne</em>" in course["description_html"]
    assert second["video_url"] == "https://video.example.org/v/1"


def test_an_image_in_a_module_body_is_removed(app):
    course = publish(app, modules=({"title": "Pixel", "body": "Lisez ![](https://evil.example/p.png) ceci."},))
    body = course["modules"][0]["body_html"]
    assert "<img" not in body and "evil.example" not in body and "ceci" in body


def test_quiz_answers_are_never_shown(app):
    course = publish(app)
    quiz = course["modules"][1]["quiz"]
    assert quiz == {"questions": [{"question": "Quand vote-t-on ?", "choices": ["Le dimanche", "Le lundi"]},
                                  {"question": "Combien de tours ?", "choices": ["Un", "Deux", "Trois"]}]}
    assert "answer" not in str(uses(app).list_trainings(MEMBER)) and "answer" not in str(course)


@pytest.mark.parametrize("changes, field", [
    ({"title": "  "}, "title"),
    ({"title": "x" * 201}, "title"),
    ({"modules": ()}, "modules"),
    ({"modules": ({"title": "", "body": "b"},)}, "modules.0.title"),
    ({"modules": ({"title": "t", "body": "b" * 50_001},)}, "modules.0.body"),
    ({"modules": ({"title": "t", "body": "b", "video_url": "javascript:alert(1)"},)}, "modules.0.video_url"),
    ({"modules": ({"title": "t", "body": "b", "video_url": "ftp://x.org/v"},)}, "modules.0.video_url"),
    ({"modules": ({"title": "t", "body": "b", "video_url": "https://"},)}, "modules.0.video_url"),
    ({"modules": ({"title": "t", "body": "b", "quiz": {"questions": [
        {"question": "q", "choices": ["a", "b"]}]}},)}, "modules.0.quiz.questions.0.answer"),
    ({"modules": ({"title": "t", "body": "b", "quiz": {"questions": [
        {"question": "q", "choices": ["a", "b"], "answer": 2}]}},)}, "modules.0.quiz.questions.0.answer"),
    ({"modules": ({"title": "t", "body": "b", "quiz": {"questions": [
        {"question": "q", "choices": ["a"], "answer": 0}]}},)}, "modules.0.quiz.questions.0.choices"),
    ({"description": "d" * 20_001}, "description"),
])
def test_a_bad_course_is_refused_with_its_field_and_nothing_is_recorded(app, changes, field):
    outbox = Outbox(app)
    with pytest.raises(ValidationFailed) as refused:
        publish(app, **changes)
    assert field in refused.value.fields, refused.value.fields
    assert outbox.recorded == [] and uses(app).list_trainings(MEMBER)["items"] == []


def test_every_problem_of_a_course_is_told_at_once(app):
    with pytest.raises(ValidationFailed) as refused:
        publish(app, title="", modules=({"title": "", "body": ""}, {"title": "t", "body": "b", "video_url": "x"}))
    assert {"title", "modules.0.title", "modules.0.body", "modules.1.video_url"} <= set(refused.value.fields)


def test_members_read_courses_and_candidates_courses_only_candidates_and_admins(app):
    open_course = publish(app, title="Pour tous")
    candidates = publish(app, title="Candidats", candidates_only=True)
    with pytest.raises(Unauthorized):
        uses(app).list_trainings(ANONYMOUS)
    with pytest.raises(Unauthorized):
        uses(app).training(open_course["id"], ANONYMOUS)
    assert [c["id"] for c in uses(app).list_trainings(MEMBER)["items"]] == [open_course["id"]]
    for context in (CANDIDATE, NATIONAL, FED_75):
        assert [c["id"] for c in uses(app).list_trainings(context)["items"]] == [candidates["id"], open_course["id"]]
    with pytest.raises(Forbidden):
        uses(app).training(candidates["id"], MEMBER)
    assert uses(app).training(candidates["id"], CANDIDATE)["candidates_only"] is True
    with pytest.raises(NotFound):
        uses(app).training("unknown", MEMBER)


def test_enrolling_once_and_candidates_only_for_candidates(app):
    course = publish(app)
    candidates = publish(app, candidates_only=True)
    with pytest.raises(Unauthorized):
        uses(app).enrol(Enrol(course["id"]), ANONYMOUS)
    enrolled = uses(app).enrol(Enrol(course["id"]), MEMBER)
    assert enrolled["enrolled"] and enrolled["enrolment"]["progress"] == 0.0
    with pytest.raises(Conflict):
        uses(app).enrol(Enrol(course["id"]), MEMBER)
    with pytest.raises(NotFound):
        uses(app).enrol(Enrol("unknown"), MEMBER)
    for context in (MEMBER, NATIONAL):
        with pytest.raises(Forbidden):
            uses(app).enrol(Enrol(candidates["id"]), context)
    assert uses(app).enrol(Enrol(candidates["id"]), CANDIDATE)["enrolled"]


def test_an_enrolment_delivered_again_answers_as_the_first_time(app):
    """The service died between its commit and its reply: the redelivered call (same
    idempotency key) answers the enrolment, not "enrolled already"; a new call is refused."""
    outbox = Outbox(app)
    course = publish(app)
    call = Context(actor_id="mem-1", actor_roles=("member",), actor_federation="75", idempotency_key="enrol-1")
    first = uses(app).enrol(Enrol(course["id"]), call)
    again = uses(app).enrol(Enrol(course["id"]), call)
    assert first["enrolled"] and again["enrolled"] and again["enrolment"] == first["enrolment"]
    assert len(outbox.of(TrainingEnrolled)) == 1
    with pytest.raises(Conflict):
        uses(app).enrol(Enrol(course["id"]), Context(actor_id="mem-1", actor_roles=("member",),
                                                     actor_federation="75", idempotency_key="enrol-2"))


def test_a_member_completes_the_modules_in_order_and_gets_a_completion_record(app):
    outbox = Outbox(app)
    course = publish(app)
    with pytest.raises(Conflict):
        complete(app, course, 0)  # not enrolled
    uses(app).enrol(Enrol(course["id"]), MEMBER)
    with pytest.raises(Conflict):
        complete(app, course, 1, answers=(0, 1))  # out of order
    with pytest.raises(NotFound):
        uses(app).complete(CompleteModule(course["id"], "unknown-module"), MEMBER)
    assert complete(app, course, 0) == {"training_id": course["id"], "module_id": course["modules"][0]["id"],
                                        "progress": 0.3333, "completed": False,
                                        "completed_modules": [course["modules"][0]["id"]]}
    assert complete(app, course, 0)["progress"] == 0.3333  # again: the same answer, nothing recorded
    with pytest.raises(ValidationFailed) as wrong:
        complete(app, course, 1, answers=(0, 2))
    assert list(wrong.value.fields) == ["answers.1"]
    assert complete(app, course, 1, answers=(0, 1))["progress"] == 0.6667
    shown = uses(app).training(course["id"], MEMBER)
    assert [m["completed"] for m in shown["modules"]] == [True, True, False]
    assert [m["available"] for m in shown["modules"]] == [True, True, True]
    assert shown["next_module_id"] == course["modules"][2]["id"]
    done = complete(app, course, 2)
    assert (done["progress"], done["completed"]) == (1.0, True)
    assert len(outbox.of(ModuleCompleted)) == 3
    completion, = outbox.of(TrainingCompleted)
    assert (completion.training_id, completion.member_id) == (course["id"], "mem-1")
    mine = uses(app).trainings_of("mem-1")["items"]
    assert [(i["training_id"], i["completed"], i["progress"]) for i in mine] == [(course["id"], True, 1.0)]
    assert mine[0]["completed_at"] is not None
    assert uses(app).training(course["id"], MEMBER)["enrolment"]["completed"] is True
    # Another member's progress is their own.
    assert uses(app).training(course["id"], OTHER)["enrolment"] is None
    assert uses(app).trainings_of("mem-2")["items"] == []


def test_the_export_and_the_erasure_of_a_member(app):
    outbox = Outbox(app)
    course = publish(app)
    uses(app).enrol(Enrol(course["id"]), MEMBER)
    complete(app, course, 0)
    uses(app).enrol(Enrol(course["id"]), OTHER)
    exported = uses(app).export_personal_data("mem-1")["training_enrolments"]
    assert [(e["training_id"], e["progress"]) for e in exported] == [(course["id"], 0.3333)]
    message = erased("mem-1")
    uses(app).member_erased(message)
    uses(app).member_erased(message)  # redelivered: once
    assert len(outbox.of(TraineeForgotten)) == 1
    assert uses(app).export_personal_data("mem-1") == {"training_enrolments": []}
    assert uses(app).trainings_of("mem-1")["items"] == []
    assert len(uses(app).trainings_of("mem-2")["items"]) == 1
    app.rebuild_read_models()  # an erased member does not come back
    assert uses(app).export_personal_data("mem-1") == {"training_enrolments": []}


def test_a_rebuild_gives_the_same_read_models(app):
    course = publish(app)
    publish(app, title="Candidats", candidates_only=True)
    uses(app).enrol(Enrol(course["id"]), MEMBER)
    complete(app, course, 0)
    complete(app, course, 1, answers=(0, 1))
    uses(app).enrol(Enrol(course["id"]), OTHER)
    tables = list(read_models.sorted_tables)
    with app.read() as conn:
        before = dump_tables(conn, tables)
    app.rebuild_read_models()
    with app.read() as conn:
        assert dump_tables(conn, tables) == before
    assert sum(len(rows) for rows in before.values()) == 2 + 6 + 2


def test_a_publication_delivered_twice_publishes_one_course(app):
    outbox = Outbox(app)
    again = Context(actor_id="nat-1", actor_roles=("national_admin",), idempotency_key="call-1")
    first, second = publish(app, again), publish(app, again)
    assert first["id"] == second["id"] and len(outbox.of(TrainingPublished)) == 1
    assert publish(app, Context(actor_id="nat-1", actor_roles=("national_admin",),
                                idempotency_key="call-2"))["id"] != first["id"]
