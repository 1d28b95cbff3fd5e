"""What every page of the site shares: templates, the layout's error page, CSRF, the page entrypoint.

The site holds the bearer token in an HttpOnly, SameSite=Lax cookie. Every form
carries a CSRF token: an HMAC, keyed with the installation's secret, of a random
per-visitor value (the `umpnet_csrf` cookie) and of the session token when logged
in. Another site can make a browser send our cookies but cannot read the token;
and a token cannot be made up (it is signed), reused by another visitor, or kept
across a login or logout (the visitor value is rotated and the session is bound).
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import os
import secrets
from urllib.parse import urlparse

from jinja2 import Environment, PackageLoader, select_autoescape
from werkzeug.security import safe_join
from werkzeug.wrappers import Response

from umpnet_kernel.config import public_url, secret_key
from umpnet_kernel.errors import DomainError
from umpnet_kernel.links import keyed_hash

from members import limits

from ..auth import SESSION_COOKIE, actor_of
from ..errors import error_answer
from ..http import GatewayEntrypoint, PAGE_SECURITY_HEADERS

log = logging.getLogger(__name__)

CSRF_COOKIE = "umpnet_csrf"
STATIC_DIR = os.path.join(os.path.dirname(os.path.dirname(__file__)), "static")

templates = Environment(loader=PackageLoader("umpnet_gateway", "templates"), autoescape=select_autoescape())
# Forms show the limits the services enforce, from the one module that owns them.
templates.globals["limits"] = limits
# The site's address as configured (PUBLIC_URL), for absolute links (Open Graph's og:url).
templates.globals["public_url"] = lambda: public_url().rstrip("/")

ERROR_TITLES = {
    400: ("Requête refusée", "Cette demande n’a pas pu être traitée."),
    403: ("Accès refusé", "Vous n’avez pas accès à cette page."),
    404: ("Page introuvable", "Cette page n’existe pas ou plus. Vérifiez l’adresse, ou repartez de l’accueil."),
    405: ("Action impossible", "Cette page ne permet pas cette action."),
    413: ("Envoi trop volumineux", "Le formulaire envoyé est trop volumineux."),
    429: ("Trop de tentatives", "Patientez un peu avant de réessayer."),
}


def secure_cookies() -> bool:
    return urlparse(public_url()).scheme == "https"


def error_page(status: int, title: str | None = None, message: str | None = None, headers: dict | None = None) -> Response:
    """A French error page in the site's layout (also for werkzeug's 404/405)."""
    default_title, default_message = ERROR_TITLES.get(
        status, ("Service momentanément indisponible", "Réessayez dans quelques instants.") if status >= 500
        else ("Requête refusée", "Cette demande n’a pas pu être traitée."))
    body = templates.get_template("error.html").render(title=title or default_title,
                                                      message=message or default_message, actor=None)
    response = Response(body, status=status, mimetype="text/html", headers=headers)
    for name, value in PAGE_SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def csrf_token(visitor: str, session_token: str | None) -> str:
    bound = hashlib.sha256(session_token.encode()).hexdigest() if session_token else "-"
    return keyed_hash(secret_key(), "csrf", f"{visitor}|{bound}")


class Page:
    """One HTML response, with the CSRF visitor cookie set when the visitor has none."""

    def __init__(self, request):
        self.request = request
        self.visitor = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
        self.session = request.cookies.get(SESSION_COOKIE)
        self.csrf = csrf_token(self.visitor, self.session)
        self.rotated = False

    def render(self, template: str, status: int = 200, headers: dict | None = None, **values) -> Response:
        body = templates.get_template(template).render(csrf_token=self.csrf, **values)
        response = Response(body, status=status, mimetype="text/html", headers=headers)
        return self.finish(response)

    def refused(self, template: str, error: DomainError, **values) -> Response:
        """The form again, with why it was refused (status and Retry-After from `error_answer`)."""
        answer = error_answer(error)
        return self.render(template, status=answer.status, headers=answer.headers,
                           errors={"message": answer.message, "fields": answer.fields}, **values)

    def render_public(self, template: str, **values) -> Response:
        """A page with no form and nothing personal, the same for every visitor: no
        cookie is set, so that it can be kept in a shared cache (`caching`)."""
        body = templates.get_template(template).render(csrf_token="", **values)
        response = Response(body, mimetype="text/html")
        for name, value in PAGE_SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    def rotate(self) -> None:
        """A new visitor value (at login and logout): tokens issued before stop working."""
        self.visitor, self.rotated = secrets.token_urlsafe(24), True

    def finish(self, response: Response) -> Response:
        if self.rotated or CSRF_COOKIE not in self.request.cookies:
            response.set_cookie(CSRF_COOKIE, self.visitor, httponly=True, samesite="Lax", secure=secure_cookies())
        for name, value in PAGE_SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    def csrf_ok(self, form) -> bool:
        visitor = self.request.cookies.get(CSRF_COOKIE, "")
        sent = form.get("csrf_token", "")
        expected = csrf_token(visitor, self.session)
        return bool(visitor) and hmac.compare_digest(sent.encode(), expected.encode())


def form_errors(error: DomainError) -> dict:
    """What a form shows of a refusal: the message on top, the fields' messages beside them."""
    answer = error_answer(error)
    return {"message": answer.message, "fields": answer.fields}


class PageEntrypoint(GatewayEntrypoint):
    """An HTML route: an unexpected failure shows a French error page, not a traceback."""

    def response_from_exception(self, exc):
        answer = error_answer(exc)
        if answer.unexpected:
            log.error("unexpected error in %s %s", self.method, self.url, exc_info=exc)
        # A client error says why; a failure of ours says only "try again".
        message = answer.message if isinstance(exc, DomainError) and answer.status < 500 else None
        return error_page(answer.status, message=message, headers=answer.headers)


page = PageEntrypoint.decorator


class SitePages:
    """Mixed into the gateway service with the per-service site modules: what they share."""

    def _visitor(self, request):
        token = request.cookies.get(SESSION_COOKIE)
        return actor_of(self.services, request, token), token

    def _refuse_forgery(self, page):
        return page.render("error.html", status=403, title="Formulaire expiré",
                           message="Ce formulaire a expiré. Rechargez la page et recommencez.")

    @page("GET", "/static/<path:filename>")
    def static(self, request, filename):
        path = safe_join(STATIC_DIR, filename)
        if path is None or not os.path.isfile(path):
            return error_page(404)
        mimetype = {"css": "text/css", "js": "text/javascript", "svg": "image/svg+xml", "png": "image/png"}.get(
            filename.rsplit(".", 1)[-1], "application/octet-stream")
        with open(path, "rb") as f:
            return Response(f.read(), mimetype=mimetype, headers={"Cache-Control": "public, max-age=3600"})
