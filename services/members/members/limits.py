"""The members service's input limits: the one place that owns them.

The domain enforces them, the gateway's schemas (and so the generated OpenAPI
document) are built from them, and the site's forms show them: a limit retyped
elsewhere drifts (the fuzzer found the schema allowing 1-1024 characters of
password where the service took 8-256).
"""
from datetime import timedelta

EMAIL_MAX = 254  # RFC 5321's path limit, less the angle brackets
PASSWORD_MIN = 8
PASSWORD_MAX = 256  # argon2 on megabytes of "password" would be a cheap denial of service
NAME_MAX = 100
BIO_MAX = 2000
BLOG_URL_MAX = 500
THEMES_MAX = 20  # themes a member may follow
SKILLS_MAX = 20  # skills on a profile: a list to scan, not a CV
SKILL_MAX = 50  # one skill: a few words ("prise de parole", "graphisme")
THEME_SLUG_MAX = 50
FEDERATION_CODE_MAX = 10
LINK_TOKEN_MAX = 200  # nonce.mac (see umpnet_kernel.links)
SESSION_TOKEN_MAX = 100
RESOLVED_AT_ONCE_MAX = 200  # tokens in one resolve_sessions call (the gateway gathers 100 at most)

# Contact requests a member may send in a day (throttle.RateLimits): enough for
# anyone building their network, too few to spam the membership.
CONTACT_REQUESTS_PER_DAY = 50

# Invitations (domain/invitation.py): how many a member may send in a day; how
# long an emailed invitation credits its inviter, and within which a second
# invitation to the same address by the same member is the first one again;
# how many invitation emails one address receives in that period, whoever sends them.
INVITATIONS_PER_DAY = 20
INVITATION_PERIOD = timedelta(days=30)
INVITATION_EMAILS_PER_ADDRESS = 3

SESSION_LIFETIME = timedelta(days=30)
VERIFY_LINK_LIFETIME = timedelta(days=7)
RESET_LINK_LIFETIME = timedelta(hours=1)
