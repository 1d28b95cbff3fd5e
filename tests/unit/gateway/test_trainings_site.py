"""The trainings site's form helpers: a quiz written one question a line, the publishing
form's rows, the quiz answers of a completion, and refusals that say which module."""
import pytest
from werkzeug.datastructures import MultiDict

from umpnet_gateway.site.trainings import course_from_form, error_lines, quiz_answers, quiz_from_text
from umpnet_kernel.errors import ValidationFailed


def test_a_quiz_is_written_one_question_a_line_the_star_marking_the_right_choice():
    assert quiz_from_text("Combien ? | Un | *Deux\r\n\r\n  Qui ? | *Moi | Toi | *Lui ") == {"questions": [
        {"question": "Combien ?", "choices": ["Un", "Deux"], "answer": 1},
        {"question": "Qui ?", "choices": ["Moi", "Toi", "*Lui"], "answer": 0}]}
    assert quiz_from_text("Sans réponse ? | a | b") == {"questions": [{"question": "Sans réponse ?",
                                                                       "choices": ["a", "b"]}]}
    assert quiz_from_text(" \n ") is None


def test_the_form_s_empty_module_rows_are_left_out_and_the_others_remembered():
    course, rows = course_from_form(MultiDict({
        "title": " Cours ", "description": "a\r\nb", "candidates_only": "1",
        "module-1-title": "Un", "module-1-body": "x\r\ny", "module-3-video_url": " https://v.example.org/1 "}))
    assert rows == [1, 3]
    assert course == {"title": "Cours", "description": "a\nb", "candidates_only": True, "modules": [
        {"title": "Un", "body": "x\ny", "video_url": None, "quiz": None},
        {"title": "", "body": "", "video_url": "https://v.example.org/1", "quiz": None}]}


def test_a_refusal_says_which_row_of_the_form_each_message_is_about():
    lines = error_lines({"title": ["Ce champ est obligatoire."], "modules.1.video_url": ["Mauvais lien."],
                         "modules.0.quiz.questions.2.answer": ["Indiquez la bonne réponse."],
                         "modules": ["Ajoutez au moins un module."]}, rows=[0, 4])
    assert lines == ["titre : Ce champ est obligatoire.", "Module 5, lien vidéo : Mauvais lien.",
                     "Module 1, quiz, question 3, bonne réponse : Indiquez la bonne réponse.",
                     "Modules : Ajoutez au moins un module."]


def test_a_completion_sends_one_answer_per_question_and_none_without_a_quiz():
    module = {"quiz": {"questions": [{"question": "a", "choices": ["x", "y"]}] * 2}}
    assert quiz_answers(MultiDict({"answer-0": "1", "answer-1": "0"}), module) == [1, 0]
    assert quiz_answers(MultiDict(), {"quiz": None}) is None
    with pytest.raises(ValidationFailed) as refused:
        quiz_answers(MultiDict({"answer-0": "1", "answer-1": "deux"}), module)
    assert list(refused.value.fields) == ["answers.1"]
