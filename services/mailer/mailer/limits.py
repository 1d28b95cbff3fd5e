"""The bounds of what a campaign and a blog registration may hold (the gateway's schemas use them too)."""

SUBJECT_MAX = 200  # characters of a campaign's subject
BODY_MAX = 100_000  # characters of its Markdown body
RADIUS_KM = (1, 100)  # `near.radius_km`
TOP_BLOGS_MAX = 1500  # `top_blogs: true` means this many
SEGMENT_LIST_MAX = 120  # codes in one of a segment's lists (there are ~100 federations)
URL_MAX = 2000  # characters of a blog's or feed's address
BLOGS_LIST_MAX = 1500  # `GET /api/blogs?limit=` (API.md shows limit=1500: the newsletter's list in one page)

# The platform's roles (API.md §3); "member" is everyone's.
ROLES = ("member", "organizer", "candidate", "moderator", "federation_admin", "national_admin")
