"""The members service's rate limits (the counting is umpnet_kernel.throttle)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

# The counters themselves are the kernel's (umpnet_kernel.throttle); this
# module names the members service's limits.
from umpnet_kernel.throttle import (  # noqa: F401  (the members' throttle API)
    Limit,
    clear,
    count,
    hit,
    hit_many,
    prune,
    refund,
    seconds_until,
    throttle_counters,
    throttle_metadata,
)

from .limits import CONTACT_REQUESTS_PER_DAY, INVITATION_EMAILS_PER_ADDRESS, INVITATION_PERIOD, INVITATIONS_PER_DAY


@dataclass(frozen=True)
class RateLimits:
    """Every limit of the members service; `scaled(k)` multiplies the counts
    (RATE_LIMIT_SCALE, for a party whose members sign up behind one address)."""

    # Logins. A stranger cannot lock the owner out: after 5 wrong passwords
    # only the source that typed them is refused for that account; a source
    # trying many accounts is refused everywhere; beyond 20 failures from
    # everywhere, the account is slowed to one attempt every 2 s, never locked.
    login_per_account_and_source: Limit = Limit(5, timedelta(minutes=15))
    login_failures_per_source: Limit = Limit(20, timedelta(minutes=15))
    login_failures_per_account: Limit = Limit(20, timedelta(minutes=15))
    login_pace_when_attacked: Limit = Limit(1, timedelta(seconds=2))
    # Everything that sends mail, per address and per source.
    mail_per_address: Limit = Limit(3, timedelta(hours=1))
    mail_per_source: Limit = Limit(10, timedelta(hours=1))
    duplicate_sign_up_notice_per_address: Limit = Limit(1, timedelta(hours=1))
    sign_ups_per_source: Limit = Limit(300, timedelta(hours=1))
    # Contact requests, per requesting member (only the requests that are sent count).
    contact_requests_per_member: Limit = Limit(CONTACT_REQUESTS_PER_DAY, timedelta(days=1))
    # Invitations, per inviting member (new ones only), and the emails one address gets from them all.
    invitations_per_member: Limit = Limit(INVITATIONS_PER_DAY, timedelta(days=1))
    invitation_emails_per_address: Limit = Limit(INVITATION_EMAILS_PER_ADDRESS, INVITATION_PERIOD)

    def scaled(self, factor: float) -> "RateLimits":
        if factor == 1:
            return self
        return RateLimits(
            **{
                name: Limit(max(1, int(limit.count * factor)), limit.window)
                for name, limit in self.__dict__.items()
            }
        )


