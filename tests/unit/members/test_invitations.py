"""Invitations and provider logins (invitation_cases.py) on the in-memory database."""
import pytest


from .invitation_cases import *  # noqa: F401,F403 (the scenarios, collected here)


pytestmark = pytest.mark.usefixtures("quick_password_hashing")

