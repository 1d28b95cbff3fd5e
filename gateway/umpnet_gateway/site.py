"""The server-rendered public site (French): home, sign-up, login, verification, password reset, my profile.

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
from werkzeug.exceptions import HTTPException
from werkzeug.security import safe_join
from werkzeug.utils import redirect
from werkzeug.wrappers import Response

from umpnet_kernel.config import public_url, secret_key
from umpnet_kernel.errors import DomainError
from umpnet_kernel.links import keyed_hash

from members import limits

from .auth import SESSION_COOKIE, actor_of
from .http import GatewayEntrypoint, PAGE_SECURITY_HEADERS, form_data, load, retry_after_headers
from .schemas import LoginRequest, PasswordResetConfirm, PasswordResetRequest, ProfileUpdateRequest, SignUpRequest

log = logging.getLogger(__name__)

CSRF_COOKIE = "umpnet_csrf"
STATIC_DIR = os.path.join(os.path.dirname(__file__), "static")

templates = Environment(loader=PackageLoader("umpnet_gateway", "templates"), autoescape=select_autoescape())
templates.globals["limits"] = limits

ERROR_TITLES = {
    400: ("Requête refusée", "Cette demande n’a pas pu être traitée."),
    403: ("Accès refusé", "Vous n’avez pas accès à cette page."),
    404: ("Page introuvable", "Cette page n’existe pas ou plus. Vérifiez l’adresse, ou repartez de l’accueil."),
    405: ("Action impossible", "Cette page ne permet pas cette action."),
    413: ("Envoi trop volumineux", "Le formulaire envoyé est trop volumineux."),
    429: ("Trop de tentatives", "Patientez un peu avant de réessayer."),
}


def _secure_cookies() -> bool:
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

    def rotate(self) -> None:
        """A new visitor value (at login and logout): tokens issued before stop working."""
        self.visitor, self.rotated = secrets.token_urlsafe(24), True

    def finish(self, response: Response) -> Response:
        if self.rotated or CSRF_COOKIE not in self.request.cookies:
            response.set_cookie(CSRF_COOKIE, self.visitor, httponly=True, samesite="Lax", secure=_secure_cookies())
        for name, value in PAGE_SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response

    def csrf_ok(self, form) -> bool:
        visitor = self.request.cookies.get(CSRF_COOKIE, "")
        sent = form.get("csrf_token", "")
        expected = csrf_token(visitor, self.session)
        return bool(visitor) and hmac.compare_digest(sent.encode(), expected.encode())


class PageEntrypoint(GatewayEntrypoint):
    """An HTML route: an unexpected failure shows a French error page, not a traceback."""

    def response_from_exception(self, exc):
        if isinstance(exc, DomainError):
            return error_page(exc.status, message=exc.message if exc.status < 500 else None,
                              headers=retry_after_headers(exc))
        if isinstance(exc, HTTPException) and exc.code and exc.code < 500:
            return error_page(exc.code)
        log.error("unexpected error in %s %s", self.method, self.url, exc_info=exc)
        return error_page(500)


page = PageEntrypoint.decorator


def _form_errors(error: DomainError) -> dict:
    return {"message": error.message, "fields": error.fields}


class Site:
    """Mixed into the gateway service: `self.services` calls the services."""

    def _visitor(self, request):
        token = request.cookies.get(SESSION_COOKIE)
        return actor_of(self.services, request, token), token

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
        if request.method != "POST":
            return page.render("signup.html", themes=themes, form={}, errors=None)
        form = form_data(request)
        if not page.csrf_ok(form):
            return self._refuse_forgery(page)
        data = {
            "email": form.get("email", "").strip(),
            "password": form.get("password", ""),
            "postcode": form.get("postcode", "").strip(),
            "themes": form.getlist("themes"),
        }
        try:
            self.services.call("members", "register", load(SignUpRequest(), data))
        except DomainError as error:
            return page.render("signup.html", status=error.status, headers=retry_after_headers(error), themes=themes,
                               form=data, errors=_form_errors(error))
        # The same page for a new and a registered address (the email tells them apart).
        return page.render("signup_done.html", email=data["email"])

    @page("GET,POST", "/verify")
    def verify_page(self, request):
        """The emailed link opens a page; only its button (a POST) verifies: mail scanners follow links."""
        page = Page(request)
        if request.method != "POST":
            return page.render("verify.html", state="confirm", token=request.args.get("token", ""))
        form = form_data(request)
        if not page.csrf_ok(form):
            return self._refuse_forgery(page)
        token = form.get("token", "")
        try:
            self.services.call("members", "verify_email", token)
        except DomainError as error:
            if error.status >= 429:
                raise
            return page.render("verify.html", status=400, state="failed")
        return page.render("verify.html", state="verified")

    @page("GET,POST", "/connexion")
    def log_in_page(self, request):
        page = Page(request)
        if request.method != "POST":
            return page.render("login.html", form={}, errors=None)
        form = form_data(request)
        if not page.csrf_ok(form):
            return self._refuse_forgery(page)
        email, password = form.get("email", ""), form.get("password", "")
        try:
            valid = load(LoginRequest(), {"email": email, "password": password})
            session = self.services.call("members", "open_session", valid["email"], valid["password"])
        except DomainError as error:
            return page.render("login.html", status=error.status, headers=retry_after_headers(error),
                               form={"email": email}, errors=_form_errors(error))
        page.rotate()
        response = page.finish(redirect("/profil", code=303))
        response.set_cookie(SESSION_COOKIE, session["token"], httponly=True, samesite="Lax",
                            secure=_secure_cookies(), max_age=int(limits.SESSION_LIFETIME.total_seconds()))
        return response

    @page("POST", "/deconnexion")
    def log_out_page(self, request):
        page = Page(request)
        if not page.csrf_ok(form_data(request)):
            return self._refuse_forgery(page)
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            self.services.call("members", "close_session", token)
        page.rotate()
        response = page.finish(redirect("/", code=303))
        response.delete_cookie(SESSION_COOKIE)
        return response

    @page("GET,POST", "/mot-de-passe-oublie")
    def forgotten_password_page(self, request):
        page = Page(request)
        if request.method != "POST":
            return page.render("forgot_password.html", sent=False, form={}, errors=None)
        form = form_data(request)
        if not page.csrf_ok(form):
            return self._refuse_forgery(page)
        email = form.get("email", "").strip()
        try:
            valid = load(PasswordResetRequest(), {"email": email})
            self.services.call("members", "request_password_reset", valid["email"])
        except DomainError as error:
            return page.render("forgot_password.html", status=error.status, headers=retry_after_headers(error),
                               sent=False, form={"email": email}, errors=_form_errors(error))
        return page.render("forgot_password.html", sent=True, form={"email": email}, errors=None)

    @page("GET,POST", "/password-reset")
    def reset_password_page(self, request):
        """The emailed link (token in the query) opens a form; the form posts the token in its body."""
        page = Page(request)
        if request.method != "POST":
            return page.render("reset_password.html", done=False, token=request.args.get("token", ""), errors=None)
        form = form_data(request)
        if not page.csrf_ok(form):
            return self._refuse_forgery(page)
        token = form.get("token", "")
        try:
            valid = load(PasswordResetConfirm(), {"token": token, "password": form.get("password", "")})
            self.services.call("members", "reset_password", valid["token"], valid["password"])
        except DomainError as error:
            return page.render("reset_password.html", status=error.status, headers=retry_after_headers(error),
                               done=False, token=token, errors=_form_errors(error))
        return page.render("reset_password.html", done=True, token="", errors=None)

    @page("GET,POST", "/profil")
    def profile_page(self, request):
        page = Page(request)
        actor, _ = self._visitor(request)
        if actor is None:
            return page.finish(redirect("/connexion", code=303))
        themes = self.services.call("members", "list_themes")
        errors, saved = None, False
        if request.method == "POST":
            form = form_data(request, multiline=("bio",))
            if not page.csrf_ok(form):
                return self._refuse_forgery(page)
            changes = {
                "first_name": form.get("first_name", ""),
                "last_name": form.get("last_name", ""),
                "postcode": form.get("postcode", "").strip(),
                "themes": form.getlist("themes"),
                "bio": form.get("bio", ""),
                "blog_url": form.get("blog_url", "").strip() or None,
                "map_visible": form.get("map_visible") == "on",
                "contact_consent": form.get("contact_consent") == "on",
                "shown_fields": form.getlist("shown_fields"),
            }
            try:
                valid = load(ProfileUpdateRequest(), changes)
                self.services.call("members", "update_own_profile", actor["member_id"], valid)
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
            return error_page(404)
        mimetype = {"css": "text/css", "js": "text/javascript", "svg": "image/svg+xml", "png": "image/png"}.get(
            filename.rsplit(".", 1)[-1], "application/octet-stream")
        with open(path, "rb") as f:
            return Response(f.read(), mimetype=mimetype, headers={"Cache-Control": "public, max-age=3600"})
