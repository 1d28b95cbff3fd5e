"""The trainings use cases in memory (the scenarios of training_cases.py)."""
from .training_cases import *  # noqa: F401,F403 (the scenarios, collected here)
