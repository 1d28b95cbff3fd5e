"""The site's blogs page (French): the members' blogs, most active first, and the form to
register one's own (members; CSRF). Scores come from the mailer's job, never this request.

    /blogs    the list (?order=recent: newest first); POST: register my blog
"""
from __future__ import annotations

from werkzeug.utils import redirect

from umpnet_kernel.errors import DomainError

from .. import campaign_schemas
from ..http import form_data, load
from .pages import Page, page

SHOWN = 200  # blogs on the page


class BlogsSite:
    """Mixed into the gateway service (with `SitePages`): `self.services` calls the services."""

    def _blogs(self, order: str) -> list[dict]:
        return self.services.call("mailer", "list_blogs", order, limit=SHOWN)["items"]

    @page("GET,POST", "/blogs")
    def blogs_page(self, request):
        page = Page(request)
        actor, _ = self._visitor(request)
        order = "recent" if request.args.get("order") == "recent" else "activity"
        if request.method != "POST":
            return page.render("blogs.html", blogs=self._blogs(order), order=order, actor=actor, form={},
                               errors=None, registered=request.args.get("inscrit") == "1")
        if actor is None:
            return page.finish(redirect("/connexion", code=303))
        posted = form_data(request)
        if not page.csrf_ok(posted):
            return self._refuse_forgery(page)
        form = {"url": posted.get("url", "").strip(), "feed_url": posted.get("feed_url", "").strip()}
        try:
            self.services.call("mailer", "register_blog", load(campaign_schemas.BlogRequest, form))
        except DomainError as error:
            return page.refused("blogs.html", error, blogs=self._blogs(order), order=order, actor=actor, form=form,
                                registered=False)
        return page.finish(redirect("/blogs?inscrit=1", code=303))
