"""The meetings' limits: the one place that owns them (the gateway imports them)."""
from __future__ import annotations

TITLE_MAX = 200
DESCRIPTION_MAX = 20_000
ADDRESS_MAX = 300
URL_MAX = 500
REASON_MAX = 500
CAPACITY_MAX = 100_000
RADIUS_MAX_KM = 500
DEFAULT_NOTIFY_RADIUS_KM = 30
DURATION_MAX_DAYS = 14  # a meeting longer than this is not a meeting
