"""Export and erasure (tests/unit/members/privacy_cases.py) on SQLite and PostgreSQL."""
from tests.unit.members.privacy_cases import *  # noqa: F401,F403 (the scenarios, collected here)
from tests.integration.members_fixtures import app, quick_password_hashing  # noqa: F401 (fixtures)


