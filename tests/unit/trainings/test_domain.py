"""The course and a member's enrolment, alone: modules in order, the quiz, candidates only."""
import pytest

from events.events import ModuleCompleted, TrainingCompleted, TrainingEnrolled
from events.trainings.domain.course import Module, Question, Training
from events.trainings.domain.enrolment import Enrolment, enrolment_id_for
from umpnet_kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed

QUIZ = (Question("La capitale ?", ("Lyon", "Paris", "Lille"), 1), Question("2 + 2 ?", ("3", "4"), 1))


def course(candidates_only=False):
    modules = (Module("m1", "Bienvenue", "Texte"), Module("m2", "Le quiz", "Texte", quiz=QUIZ),
               Module("m3", "Fin", "Texte", video_url="https://video.example.org/1"))
    training = Training.publish("t1", title="Débuter", description="", candidates_only=candidates_only,
                                modules=modules, published_by="nat")
    training.collect_pending()
    return training


def enrolled(training, member="m-1", roles=("member",)):
    enrolment = Enrolment(enrolment_id_for(training.id, member))
    enrolment.enrol(training, member, roles)
    return enrolment


def test_a_course_needs_a_module():
    with pytest.raises(ValidationFailed) as refused:
        Training.publish("t", title="Vide", description="", candidates_only=False, modules=(), published_by="n")
    assert "modules" in refused.value.fields


def test_one_enrolment_per_member_and_course():
    training = course()
    assert enrolment_id_for("t1", "m-1") == enrolment_id_for("t1", "m-1") != enrolment_id_for("t1", "m-2")
    enrolment = enrolled(training)
    assert [type(e) for e in enrolment.pending] == [TrainingEnrolled]
    with pytest.raises(Conflict):
        enrolment.enrol(training, "m-1", ("member",))


def test_a_candidates_course_is_open_to_candidates_only():
    training = course(candidates_only=True)
    with pytest.raises(Forbidden):
        enrolled(training, roles=("member", "national_admin"))
    assert enrolled(training, roles=("member", "candidate")).enrolled


def test_modules_are_completed_in_order():
    training = course()
    enrolment = enrolled(training)
    with pytest.raises(Conflict) as refused:
        enrolment.complete(training, "m2", (1, 1))
    assert "Bienvenue" in refused.value.message
    assert enrolment.complete(training, "m1") is True
    assert enrolment.complete(training, "m1") is False  # again: nothing more recorded
    assert enrolment.completed == ["m1"] and enrolment.progress(3) == 0.3333


def test_completing_needs_an_enrolment_and_a_module_of_the_course():
    training = course()
    with pytest.raises(Conflict):
        Enrolment("x").complete(training, "m1")
    with pytest.raises(NotFound):
        enrolled(training).complete(training, "m-of-another-course")


def test_a_wrong_quiz_answer_records_nothing_and_says_which_question():
    training = course()
    enrolment = enrolled(training)
    enrolment.complete(training, "m1")
    before = list(enrolment.pending)
    with pytest.raises(ValidationFailed) as refused:
        enrolment.complete(training, "m2", (1, 0))
    assert list(refused.value.fields) == ["answers.1"]
    assert "4" not in str(refused.value.fields)  # never the right choice
    with pytest.raises(ValidationFailed) as missing:
        enrolment.complete(training, "m2", None)
    assert "answers" in missing.value.fields
    assert enrolment.pending == before and enrolment.completed == ["m1"]
    assert enrolment.complete(training, "m2", (1, 1)) is True


def test_the_last_module_records_the_completion():
    training = course()
    enrolment = enrolled(training)
    enrolment.complete(training, "m1")
    enrolment.complete(training, "m2", (1, 1))
    assert not enrolment.finished
    enrolment.complete(training, "m3")
    recorded = enrolment.pending
    assert isinstance(recorded[-2], ModuleCompleted) and recorded[-2].completed_count == 3
    assert isinstance(recorded[-1], TrainingCompleted) and recorded[-1].title == "Débuter"
    assert enrolment.finished and enrolment.progress(3) == 1.0
    replayed = Enrolment.rehydrate(enrolment.id, recorded)
    assert replayed.finished and replayed.completed == ["m1", "m2", "m3"]
