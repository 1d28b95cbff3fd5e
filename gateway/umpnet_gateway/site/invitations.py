"""The site's "Inviter" page (issue 8 item 5): invite by email, the personal link to share
(and on Facebook), and the list of my invitations."""
from __future__ import annotations

from werkzeug.utils import redirect

from umpnet_kernel.errors import DomainError

from ..api.invitations import personal_link
from ..api.lists import page_or_first
from ..http import form_data, load
from ..schemas import InvitationRequest
from .pages import Page, page


class InvitationsSite:
    """Mixed into the gateway service (with `SitePages`): `self.services` calls the services."""

    @page("GET,POST", "/inviter")
    def invitations_page(self, request):
        page = Page(request)
        actor, _ = self._visitor(request)
        if actor is None:
            return page.finish(redirect("/connexion", code=303))
        done, refusal, email = None, None, ""
        if request.method == "POST":
            form = form_data(request)
            if not page.csrf_ok(form):
                return self._refuse_forgery(page)
            email = form.get("email", "").strip()
            try:
                valid = load(InvitationRequest, {"email": email})
                self.services.call("members", "invite", actor["member_id"], valid["email"])
                # The same words whether the address was invited before, or is a member's.
                done, email = "Votre invitation est envoyée.", ""
            except DomainError as error:
                refusal = error  # 400 with the field's message, 429 with Retry-After
        wanted = page_or_first(request)
        listed = self.services.call("members", "list_invitations", actor["member_id"],
                                    limit=wanted.limit, cursor=wanted.cursor)
        values = {"actor": actor, "link": personal_link(self.services, actor), "invitations": listed["items"],
                  "next_cursor": listed["next_cursor"], "done": done, "email": email}
        if refusal is not None:
            return page.refused("invitations.html", refusal, **values)
        return page.render("invitations.html", errors=None, **values)
