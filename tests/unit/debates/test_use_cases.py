"""The debates use cases on SQLite (the scenarios are in debate_cases.py)."""
from .debate_cases import *  # noqa: F401,F403 (the scenarios, collected here)
