"""The petitions use cases in memory (the same scenarios run on SQLite and PostgreSQL
in tests/integration/test_petitions_use_cases.py)."""
from .petition_cases import *  # noqa: F401,F403 (the scenarios, collected here)
