"""The home page: what the platform is, its public figures and its thematic blocks
(composed from the services)."""
from __future__ import annotations

from members.domain.catalogue import THEMES

from ..caching import has_session, public_read
from .pages import Page, page


def thematic_blocks(followed=()) -> list[dict]:
    """One block per theme, under its slug (the other services tag their content
    with the same slugs); the themes the member follows come first, marked.

    The themes are the members domain's catalogue, shipped with the code like
    its limits: no call to make, nothing to invalidate (`/api/themes` serves the same list)."""
    followed = set(followed)
    blocks = [{"slug": theme.slug, "name": theme.name, "followed": theme.slug in followed} for theme in THEMES]
    return sorted(blocks, key=lambda block: not block["followed"])  # stable: catalogue order kept


class HomeSite:
    """Mixed into the gateway service (with `SitePages`)."""

    @page("GET", "/")
    @public_read("federations", ttl=30)  # max_age 0: a browser asks again, so a login shows at once
    def home(self, request):
        actor, _ = self._visitor(request)
        federations = self.federations_reference()
        digital = next(f for f in federations if f["kind"] == "digital")
        figures = {"member_count": digital["member_count"], "federation_count": len(federations) - 1}
        if not has_session(request):
            # Nothing personal and no form: the same page for every visitor, kept by the gateway.
            return Page(request).render_public("home.html", actor=None, theme_blocks=thematic_blocks(), **figures)
        followed = self.services.call("members", "get_own_profile", actor["member_id"])["themes"] if actor else ()
        return Page(request).render("home.html", actor=actor, theme_blocks=thematic_blocks(followed), **figures)
