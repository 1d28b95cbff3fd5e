"""The meetings use cases, in memory (the scenarios are in meeting_cases.py)."""
from .meeting_cases import *  # noqa: F401,F403
