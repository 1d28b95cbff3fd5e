"""The debates service's limits: the one place that owns them (the gateway imports them)."""
from __future__ import annotations

from datetime import timedelta

TITLE_MAX = 200
OPENING_MAX = 20_000  # a debate's opening text
BODY_MAX = 10_000  # a contribution
REASON_MAX = 500
SYNTHESIS_MAX = 20_000
REPLIES_SHOWN = 10  # of each thread on a page of a debate (its oldest); the rest: GET /api/contributions/{id}/replies
EDIT_WINDOW = timedelta(minutes=15)
SUSPENSION_MAX = timedelta(days=366)

# Posting (contributions and debates) per member: established accounts, and new ones
# (younger than NEW_ACCOUNT_AGE) more tightly. Two windows each: a burst, and an hour.
NEW_ACCOUNT_AGE = timedelta(days=7)
POSTS_PER_MINUTE = 6
POSTS_PER_HOUR = 60
NEW_POSTS_PER_MINUTE = 2
NEW_POSTS_PER_HOUR = 15
