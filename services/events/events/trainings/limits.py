"""The trainings' limits: the one place that owns them (the gateway's schemas import them)."""
from __future__ import annotations

TITLE_MAX = 200  # a course's or a module's title
DESCRIPTION_MAX = 20_000  # a course's description (Markdown)
BODY_MAX = 50_000  # a module's text (Markdown)
URL_MAX = 500  # a module's video link
MODULES_MAX = 50
QUESTIONS_MAX = 20  # of a module's quiz
QUESTION_MAX = 500
CHOICES_MIN, CHOICES_MAX = 2, 8
CHOICE_MAX = 300
