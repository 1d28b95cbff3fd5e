"""The home page: what the platform is, and its public figures (composed from the services)."""
from __future__ import annotations

from ..caching import has_session, public_read
from .pages import Page, page


class HomeSite:
    """Mixed into the gateway service (with `SitePages`)."""

    @page("GET", "/")
    @public_read("federations", ttl=30)  # max_age 0: a browser asks again, so a login shows at once
    def home(self, request):
        actor, _ = self._visitor(request)
        federations = self.services.call("members", "list_federations")
        digital = next(f for f in federations if f["kind"] == "digital")
        figures = {"member_count": digital["member_count"], "federation_count": len(federations) - 1}
        if not has_session(request):
            # Nothing personal and no form: the same page for every visitor, kept by the gateway.
            return Page(request).render_public("home.html", actor=None, **figures)
        return Page(request).render("home.html", actor=actor, **figures)
