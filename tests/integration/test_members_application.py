"""The members use cases (tests/unit/members/use_cases.py) on real databases,
SQLite and PostgreSQL, no broker needed."""
from tests.unit.members.use_cases import *  # noqa: F401,F403 (the scenarios, collected here)
from tests.integration.members_fixtures import app  # noqa: F401 (fixtures)

