"""The server-rendered public site (French): home, sign-up, login, verification, my profile.

The site holds the bearer token in an HttpOnly, SameSite=Lax cookie. Every form
carries a CSRF token that must equal the one in the `umpnet_csrf` cookie
(double submit): another site can make a browser send our cookies, but it
cannot read them to put the token into the form.
"""
from __future__ import annotations

import hmac
import logging
import os
import secrets
from urllib.parse import urlparse

from jinja2 import Environment, PackageLoader, select_autoescape
from nameko.web.handlers import HttpRequestHandler
from werkzeug.security import safe_join
from werkzeug.utils import redirect
from werkzeug.wrappers import Response

from umpnet_kernel.config import public_url
from umpnet_kernel.errors import DomainError

from .auth import SESSION_COOKIE, sessions
from .http import load
from .schemas import ProfileUpdateRequest, SignUpRequest

log = logging.getLogger(__name__)

CSRF_COOKIE = "umpnet_csrf"
STATIC_DIR = os.path.join(os.path.dirname(__file__), "static")

templates = Environment(loader=PackageLoader("umpnet_gateway", "templates"), autoescape=select_autoescape())


def _secure_cookies() -> bool:
    return urlparse(public_url()).scheme == "https"


class Page:
    """One HTML response, with the CSRF cookie set when the visitor has none."""

    def __init__(self, request):
        self.request = request
        self.csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)

    def render(self, template: str, status: int = 200, **values) -> Response:
        body = templates.get_template(template).render(csrf_token=self.csrf, **values)
        response = Response(body, status=status, mimetype="text/html")
        return self.finish(response)

    def finish(self, response: Response) -> Response:
        if CSRF_COOKIE not in self.request.cookies:
            response.set_cookie(CSRF_COOKIE, self.csrf, httponly=True, samesite="Lax", secure=_secure_cookies())
        response.headers.setdefault("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    def csrf_ok(self) -> bool:
        sent = self.request.form.get("csrf_token", "")
        expected = self.request.cookies.get(CSRF_COOKIE, "")
        return bool(expected) and hmac.compare_digest(sent, expected)


class PageEntrypoint(HttpRequestHandler):
    """An HTML route: an unexpected failure shows a French error page, not a traceback."""

    def response_from_exception(self, exc):
        status = exc.status if isinstance(exc, DomainError) else 500
        if status == 500:
            log.error("unexpected error in %s %s", self.method, self.url, exc_info=exc)
        body = templates.get_template("error.html").render(
            title="Service momentanément indisponible" if status >= 500 else "Requête refusée",
            message="Réessayez dans quelques instants." if status >= 500 else str(exc),
            actor=None,
        )
        return Response(body, status=status, mimetype="text/html")


page = PageEntrypoint.decorator


def _form_errors(error: DomainError) -> dict:
    return {"message": error.message, "fields": error.fields}


class Site:
    """Mixed into the gateway service: `self.services` calls the services."""

    def _visitor(self, request):
        token = request.cookies.get(SESSION_COOKIE)
        actor = sessions.actor(self.services, token)
        if actor:
            self.services.context["actor_id"] = actor["member_id"]
        return actor, token

    def _refuse_forgery(self, page):
        return page.render("error.html", status=403, title="Formulaire expiré",
                           message="Ce formulaire a expiré. Rechargez la page et recommencez.")

    @page("GET", "/")
    def home(self, request):
        actor, _ = self._visitor(request)
        federations = self.services.call("members", "list_federations")
        digital = next(f for f in federations if f["kind"] == "digital")
        return Page(request).render("home.html", actor=actor, member_count=digital["member_count"],
                                    federation_count=len(federations) - 1)

    @page("GET,POST", "/inscription")
    def sign_up_page(self, request):
        page = Page(request)
        themes = self.services.call("members", "list_themes")
        if request.method == "GET":
            return page.render("signup.html", themes=themes, form={}, errors=None)
        if not page.csrf_ok():
            return self._refuse_forgery(page)
        form = request.form
        data = {
            "email": form.get("email", "").strip(),
            "password": form.get("password", ""),
            "postcode": form.get("postcode", "").strip(),
            "themes": form.getlist("themes"),
        }
        try:
            self.services.call("members", "register", load(SignUpRequest(), data), self.services.context)
        except DomainError as error:
            return page.render("signup.html", status=error.status, themes=themes, form=data, errors=_form_errors(error))
        return page.render("signup_done.html", email=data["email"])

    @page("GET", "/verify")
    def verify_page(self, request):
        page = Page(request)
        token = request.args.get("token", "")
        try:
            self.services.call("members", "verify_email", token, self.services.context)
        except DomainError:
            return page.render("verify.html", status=400, verified=False)
        return page.render("verify.html", verified=True)

    @page("GET,POST", "/connexion")
    def log_in_page(self, request):
        page = Page(request)
        if request.method == "GET":
            return page.render("login.html", form={}, errors=None)
        if not page.csrf_ok():
            return self._refuse_forgery(page)
        email, password = request.form.get("email", ""), request.form.get("password", "")
        try:
            session = self.services.call("members", "open_session", email, password, self.services.context)
        except DomainError as error:
            return page.render("login.html", status=error.status, form={"email": email}, errors=_form_errors(error))
        response = page.finish(redirect("/profil", code=303))
        response.set_cookie(SESSION_COOKIE, session["token"], httponly=True, samesite="Lax",
                            secure=_secure_cookies(), max_age=30 * 24 * 3600)
        return response

    @page("POST", "/deconnexion")
    def log_out_page(self, request):
        page = Page(request)
        if not page.csrf_ok():
            return self._refuse_forgery(page)
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            self.services.call("members", "close_session", token, self.services.context)
            sessions.forget(token)
        response = page.finish(redirect("/", code=303))
        response.delete_cookie(SESSION_COOKIE)
        return response

    @page("GET,POST", "/profil")
    def profile_page(self, request):
        page = Page(request)
        actor, _ = self._visitor(request)
        if actor is None:
            return page.finish(redirect("/connexion", code=303))
        themes = self.services.call("members", "list_themes")
        errors, saved = None, False
        if request.method == "POST":
            if not page.csrf_ok():
                return self._refuse_forgery(page)
            form = request.form
            changes = {
                "first_name": form.get("first_name", ""),
                "last_name": form.get("last_name", ""),
                "postcode": form.get("postcode", "").strip(),
                "themes": form.getlist("themes"),
                "bio": form.get("bio", ""),
                "blog_url": form.get("blog_url", "").strip() or None,
                "map_visible": form.get("map_visible") == "on",
                "contact_consent": form.get("contact_consent") == "on",
            }
            try:
                valid = load(ProfileUpdateRequest(), changes)
                self.services.call("members", "update_own_profile", actor["member_id"], valid, self.services.context)
                saved = True
            except DomainError as error:
                errors = _form_errors(error)
        profile = self.services.call("members", "get_own_profile", actor["member_id"])
        if errors:  # show what the member typed, not what is stored, so nothing is lost
            profile = {**profile, **changes}
        return page.render("profile.html", status=400 if errors else 200, actor=actor, profile=profile,
                           themes=themes, errors=errors, saved=saved)

    @page("GET", "/static/<path:filename>")
    def static(self, request, filename):
        path = safe_join(STATIC_DIR, filename)
        if path is None or not os.path.isfile(path):
            return Response("Not found", status=404)
        mimetype = {"css": "text/css", "js": "text/javascript", "svg": "image/svg+xml", "png": "image/png"}.get(
            filename.rsplit(".", 1)[-1], "application/octet-stream")
        with open(path, "rb") as f:
            return Response(f.read(), mimetype=mimetype, headers={"Cache-Control": "public, max-age=3600"})
