"""The site's pages of contacts between members (French): "Mes contacts" and a member's public profile.

Every change is a POST form with its CSRF token; the page answers with the list
as it now stands and a line saying what happened (or why it was refused).
"""
from __future__ import annotations

from werkzeug.utils import redirect

from umpnet_kernel.errors import DomainError

from ..api.contacts import member_id_of
from ..api.lists import page_or_first
from ..http import form_data
from .pages import Page, form_errors, page

# What each button of the pages asks the members service, and what the page says once done.
ACTIONS = {
    "request": ("request_contact", "Votre demande est envoyée."),
    "accept": ("accept_contact", "Vous êtes désormais en contact."),
    "remove": ("remove_contact", "C’est fait."),
}


class ContactsSite:
    """Mixed into the gateway service (with `SitePages`): `self.services` calls the services."""

    @page("GET,POST", "/contacts")
    def contacts_page(self, request):
        page = Page(request)
        actor, _ = self._visitor(request)
        if actor is None:
            return page.finish(redirect("/connexion", code=303))
        done, errors = None, None
        if request.method == "POST":
            form = form_data(request)
            if not page.csrf_ok(form):
                return self._refuse_forgery(page)
            done, errors = self._contact_action(actor, form)
        wanted = page_or_first(request)
        contacts = self.services.call("members", "list_contacts", actor["member_id"],
                                      limit=wanted.limit, cursor=wanted.cursor)
        return page.render("contacts.html", status=errors["status"] if errors else 200, actor=actor,
                           contacts=contacts["items"], next_cursor=contacts["next_cursor"], done=done, errors=errors)

    @page("GET", "/membres/<id:member_id>")
    def member_page(self, request, member_id):
        """A member's public profile, with the button to ask them to be contacts."""
        page = Page(request)
        actor, _ = self._visitor(request)
        if actor is None:
            return page.finish(redirect("/connexion", code=303))
        profile = self.services.call("members", "get_public_profile", member_id_of(member_id),
                                     viewer_id=actor["member_id"])
        return page.render("member.html", actor=actor, member=profile, myself=profile["id"] == actor["member_id"],
                           can_manage_roles=self.may_manage_roles(actor, profile["id"]))  # site/admin.py

    def _contact_action(self, actor, form):
        """(what the page says, None) once done, or (None, the refusal as a form shows it)."""
        action = ACTIONS.get(form.get("action", ""))
        try:
            if action is None:
                raise DomainError("Action inconnue.")
            method, done = action
            self.services.call("members", method, actor["member_id"], member_id_of(form.get("member_id", "")))
        except DomainError as error:
            if error.status >= 429:
                raise  # the error page says when to come back (Retry-After)
            return None, {**form_errors(error), "status": error.status}
        return done, None
