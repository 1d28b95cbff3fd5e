"""The trainings use cases (tests/unit/trainings/training_cases.py) on SQLite and
PostgreSQL, migrated; and one enrolment per member when the clicks come at once."""
import threading

import pytest

from events.trainings.commands import Enrol
from umpnet_kernel.database import Database
from umpnet_kernel.errors import Conflict

from tests.unit.trainings.training_cases import *  # noqa: F401,F403 (the scenarios, collected here)
from tests.unit.trainings.training_cases import MEMBER, build_app, complete, publish, uses


@pytest.fixture(params=["sqlite", "postgresql"])
def app(request, migrated_url):
    db = Database(migrated_url("events", request.param))
    yield build_app(db)
    db.dispose()


def test_one_member_enrolling_from_many_threads_at_once_is_enrolled_once(app):
    course = publish(app)
    outcomes = []

    def enrol():
        try:
            uses(app).enrol(Enrol(course["id"]), MEMBER)
            outcomes.append("enrolled")
        except Conflict:
            outcomes.append("conflict")

    threads = [threading.Thread(target=enrol) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["conflict"] * 7 + ["enrolled"]
    assert complete(app, course, 0)["progress"] == 0.3333
    assert [i["training_id"] for i in uses(app).trainings_of(MEMBER.actor_id)["items"]] == [course["id"]]
