"""The site's pages of the members service (French): sign-up, verification, login, password reset, my profile."""
from __future__ import annotations

from werkzeug.utils import redirect

from umpnet_geo import departement_for_postcode
from umpnet_kernel.errors import DomainError

from members import limits

from ..auth import SESSION_COOKIE, member_changed, session_closed
from ..http import form_data, load
from ..schemas import LoginRequest, PasswordResetConfirm, PasswordResetRequest, ProfileUpdateRequest, SignUpRequest
from .pages import Page, form_errors, page, secure_cookies


class MembersSite:
    """Mixed into the gateway service (with `SitePages`): `self.services` calls the services."""

    def _themes(self):
        """The themes (public reference data), from the gateway's memory."""
        return self.public_cache.reference_data("themes", lambda: self.services.call("members", "list_themes"), ttl=300)

    def federations_reference(self):
        """Every federation with its member count (public reference data), from the gateway's
        memory: dropped with the kept `federations` answers when a count changes."""
        return self.public_cache.reference_data("federations", lambda: self.services.call("members", "list_federations"))

    def _local_federations(self):
        """The local federations a member may choose."""
        return [f for f in self.federations_reference() if f["kind"] == "local"]

    @page("GET,POST", "/inscription")
    def sign_up_page(self, request):
        page = Page(request)
        themes = self._themes()
        if request.method != "POST":
            # An invitation's link (?invitation=TOKEN) is carried into the form.
            return page.render("signup.html", themes=themes, errors=None,
                               form={"invitation_token": invitation_token(request.args.get("invitation"))})
        form = form_data(request)
        if not page.csrf_ok(form):
            return self._refuse_forgery(page)
        data = {
            "email": form.get("email", "").strip(),
            "password": form.get("password", ""),
            "postcode": form.get("postcode", "").strip(),
            "themes": form.getlist("themes"),
        }
        if invitation_token(form.get("invitation_token")):
            data["invitation_token"] = invitation_token(form.get("invitation_token"))
        try:
            self.services.call("members", "register", load(SignUpRequest, data))
        except DomainError as error:
            return page.refused("signup.html", error, themes=themes, form=data)
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
            valid = load(LoginRequest, {"email": email, "password": password})
            session = self.services.call("members", "open_session", valid["email"], valid["password"])
        except DomainError as error:
            return page.refused("login.html", error, form={"email": email})
        page.rotate()
        return set_session_cookie(page.finish(redirect("/profil", code=303)), session["token"])

    @page("POST", "/deconnexion")
    def log_out_page(self, request):
        page = Page(request)
        if not page.csrf_ok(form_data(request)):
            return self._refuse_forgery(page)
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            self.services.call("members", "close_session", token)
            session_closed(self.services, request, token)
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
            valid = load(PasswordResetRequest, {"email": email})
            self.services.call("members", "request_password_reset", valid["email"])
        except DomainError as error:
            return page.refused("forgot_password.html", error, sent=False, form={"email": email})
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
            valid = load(PasswordResetConfirm, {"token": token, "password": form.get("password", "")})
            done = self.services.call("members", "reset_password", valid["token"], valid["password"])
            member_changed(self.services, done["member_id"])  # its other sessions are closed
        except DomainError as error:
            return page.refused("reset_password.html", error, done=False, token=token)
        return page.render("reset_password.html", done=True, token="", errors=None)

    @page("GET,POST", "/profil")
    def profile_page(self, request):
        page = Page(request)
        actor, _ = self._visitor(request)
        if actor is None:
            return page.finish(redirect("/connexion", code=303))
        themes = self._themes()
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
                "accepts_contact_requests": form.get("accepts_contact_requests") == "on",
                "shown_fields": form.getlist("shown_fields"),
                # One text field: "prise de parole, graphisme" (the service drops blanks and repeats).
                "skills": form.get("skills", "").split(","),
            }
            # "" is "the federation of my postcode": sending none lets the service derive it
            # again from the postcode; a federation picked in the list is kept as chosen.
            if form.get("federation_code", "").strip():
                changes["federation_code"] = form.get("federation_code").strip()
            try:
                valid = load(ProfileUpdateRequest, changes)
                self.services.call("members", "update_own_profile", actor["member_id"], valid)
                member_changed(self.services, actor["member_id"])  # the federation may be another
                saved = True
            except DomainError as error:
                errors = form_errors(error)
        profile = self.services.call("members", "get_own_profile", actor["member_id"])
        chosen = chosen_federation(profile)
        if errors:  # show what the member typed, not what is stored, so nothing is lost
            profile = {**profile, **changes}
            chosen = changes.get("federation_code", "")
        return page.render("profile.html", status=400 if errors else 200, actor=actor, profile=profile,
                           themes=themes, federations=self._local_federations(), chosen_federation=chosen,
                           errors=errors, saved=saved)


def set_session_cookie(response, token: str):
    """The session's cookie on `response` (a login, with a password or with Facebook), for the session's lifetime."""
    response.set_cookie(SESSION_COOKIE, token, httponly=True, samesite="Lax", secure=secure_cookies(),
                        max_age=int(limits.SESSION_LIFETIME.total_seconds()))
    return response


def invitation_token(value: str | None) -> str | None:
    """An invitation token as the sign-up takes it, or None: a mangled one must not block the sign-up."""
    value = (value or "").strip()
    return value if 0 < len(value) <= limits.LINK_TOKEN_MAX else None


def chosen_federation(profile: dict) -> str:
    """The federation the form shows as picked: "" when it is simply the postcode's own."""
    federation = (profile.get("federation") or {}).get("code", "")
    return "" if federation == departement_for_postcode(profile.get("postcode") or "") else federation
