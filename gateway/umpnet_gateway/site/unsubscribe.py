"""`{PUBLIC_URL}/unsubscribe?token=...` (API.md, Mailer): the page a link in an email opens,
and the RFC 8058 one-click `POST` a mail client sends from its own "unsubscribe" button.

The token is the whole authority (the mailer made it with the installation's secret and
checks it): the POST needs neither a session nor a CSRF token, since a mail client has
neither, and a forged request could only do what the link's owner asked for anyway. A GET
changes nothing (mail scanners open links); the page's button POSTs.
"""
from __future__ import annotations

from umpnet_kernel.errors import DomainError

from ..http import form_data
from .pages import Page, page

TOKEN_LENGTH = 500  # longer is no token of ours


class UnsubscribeSite:
    """Mixed into the gateway service (with `SitePages`): `self.services` calls the services."""

    @page("GET,POST", "/unsubscribe")
    def unsubscribe_page(self, request):
        response = self._unsubscribe_answer(request)
        # The token is in the address: no Referer carries it to another site, or back to ours.
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    def _unsubscribe_answer(self, request):
        page = Page(request)
        token = (request.args.get("token") or "")[:TOKEN_LENGTH]
        if request.method == "POST":
            token = token or (form_data(request).get("token") or "")[:TOKEN_LENGTH]
            try:
                done = self.services.call("mailer", "unsubscribe", token)
            except DomainError as error:
                return page.refused("unsubscribe.html", error, token=token, done=None)
            return page.render("unsubscribe.html", token="", done=done["unsubscribed"], errors=None)
        return page.render("unsubscribe.html", token=token, done=None, errors=None)
