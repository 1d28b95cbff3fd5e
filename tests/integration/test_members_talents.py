"""Talents (tests/unit/members/talent_cases.py) on SQLite and PostgreSQL, no broker needed."""
from tests.integration.members_fixtures import app, quick_password_hashing  # noqa: F401 (fixtures)
from tests.unit.members.talent_cases import *  # noqa: F401,F403 (the scenarios, collected here)
from tests.unit.members.talent_cases import SOURCES

APP_OPTIONS = {"sources": SOURCES}  # members_fixtures.app
