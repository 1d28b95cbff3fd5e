"""The site's "Mes données" page (French): download my data, delete my account.

The download is the API's export (`api/privacy.py`) for the session's member; the
deletion is a POST form with its CSRF token and the member's password, after
which the session is gone (the members service closed it) and so is the cookie.
"""
from __future__ import annotations

from werkzeug.utils import redirect

from umpnet_kernel.errors import DomainError

from ..api.privacy import EXPORT_HEADERS, personal_data_of
from ..auth import SESSION_COOKIE, member_changed
from ..http import form_data, json_response, load
from ..schemas import EraseForm
from .pages import Page, page


class PrivacySite:
    """Mixed into the gateway service (with `SitePages`): `self.services` calls the services."""

    @page("GET,POST", "/profil/donnees")
    def my_data_page(self, request):
        page = Page(request)
        actor, _ = self._visitor(request)
        if actor is None:
            return page.finish(redirect("/connexion", code=303))
        if request.method == "POST":
            form = form_data(request)
            if not page.csrf_ok(form):
                return self._refuse_forgery(page)
            try:
                if form.get("confirm") != "on":
                    raise DomainError("Cochez la case pour confirmer la suppression de votre compte.",
                                      {"confirm": ["Cochez cette case pour confirmer."]})
                valid = load(EraseForm, {"password": form.get("password", "")})
                self.services.call("members", "erase_member", actor["member_id"], valid["password"])
                member_changed(self.services, actor["member_id"])  # every session of theirs is closed
            except DomainError as error:
                if error.status >= 429:
                    raise  # the error page says when to come back (Retry-After)
                return page.refused("privacy.html", error, actor=actor, erased=False)
            page.rotate()
            response = page.render("privacy.html", actor=None, erased=True, errors=None)
            response.delete_cookie(SESSION_COOKIE)
            return response
        return page.render("privacy.html", actor=actor, erased=False, errors=None)

    @page("GET", "/profil/donnees/export")
    def my_data_download(self, request):
        page = Page(request)
        actor, _ = self._visitor(request)
        if actor is None:
            return page.finish(redirect("/connexion", code=303))
        return page.finish(json_response(personal_data_of(self.services, actor["member_id"]), headers=EXPORT_HEADERS))
