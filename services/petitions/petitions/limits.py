"""The petitions service's limits: the one place that owns them (the gateway imports them)."""
from __future__ import annotations

from datetime import timedelta

TITLE_MAX = 200
BODY_MAX = 20_000
NAME_MAX = 100  # a signer's first or last name
EMAIL_MAX = 254
REASON_MAX = 500
GOAL_MAX = 100_000_000
MILESTONES_MAX = 10
DEFAULT_MILESTONES = (50, 100)  # percents of the goal announced to the signers who consented

CONFIRM_LINK_LIFETIME = timedelta(hours=48)
