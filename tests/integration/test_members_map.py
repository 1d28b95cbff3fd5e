"""The map of activists (tests/unit/members/map_cases.py) on SQLite and PostgreSQL, no broker needed."""
from tests.unit.members.map_cases import *  # noqa: F401,F403 (the scenarios, collected here)
from tests.integration.members_fixtures import app  # noqa: F401 (fixtures)

