"""Log in with Facebook (issue 8 item 9): OAuth 2's authorisation code flow, with authlib.

    GET /connexion/facebook          a random `state` in a short-lived cookie, then the provider's authorize page
    GET /connexion/facebook/retour   the state checked against the cookie, the code exchanged for a token,
                                     the account read from the userinfo endpoint, then members.log_in_with_provider

The provider is configured by environment: FACEBOOK_CLIENT_ID and FACEBOOK_CLIENT_SECRET
(without both, the login page shows no button and these routes answer 404), and
FACEBOOK_AUTHORIZE_URL, FACEBOOK_TOKEN_URL, FACEBOOK_USERINFO_URL (Facebook's by default).

Linking is the members service's rule: only to a member whose address is verified,
and only when the provider vouches for the same address. The provider vouches when
its userinfo says `email_verified` (OpenID Connect) or `verified` is true. Facebook's
Graph API says neither, but answers only an address its user confirmed: an operator
who accepts that sets FACEBOOK_EMAIL_IS_VERIFIED=1. Nobody signs up through Facebook:
a member needs a postcode, which it does not give (the page says to sign up first).
"""
from __future__ import annotations

import hmac
import logging
import os
import secrets

from werkzeug.utils import redirect

from umpnet_kernel.config import public_url
from umpnet_kernel.errors import DomainError, ValidationFailed

from members import limits

from .members import set_session_cookie
from .pages import Page, error_page, page, secure_cookies, templates

log = logging.getLogger(__name__)

STATE_COOKIE = "umpnet_oauth_state"
CALLBACK_PATH = "/connexion/facebook/retour"
DEFAULTS = {
    "FACEBOOK_AUTHORIZE_URL": "https://www.facebook.com/v19.0/dialog/oauth",
    "FACEBOOK_TOKEN_URL": "https://graph.facebook.com/v19.0/oauth/access_token",
    "FACEBOOK_USERINFO_URL": "https://graph.facebook.com/v19.0/me?fields=id,first_name,last_name,email",
}
PROVIDER_TIMEOUT = 8  # seconds for each call to the provider (the gateway's RPC deadline is 10 s)


def facebook_config() -> dict | None:
    """The provider's settings, or None when it is not configured."""
    client_id, client_secret = os.environ.get("FACEBOOK_CLIENT_ID"), os.environ.get("FACEBOOK_CLIENT_SECRET")
    if not client_id or not client_secret:
        return None
    return {"client_id": client_id, "client_secret": client_secret,
            **{name: os.environ.get(name) or default for name, default in DEFAULTS.items()},
            "email_is_verified": os.environ.get("FACEBOOK_EMAIL_IS_VERIFIED") == "1"}


# The login page shows the button only when the provider is configured.
templates.globals["facebook_enabled"] = lambda: facebook_config() is not None


def _client(config: dict, state: str | None = None):
    from authlib.integrations.requests_client import OAuth2Session

    return OAuth2Session(config["client_id"], config["client_secret"], scope="email public_profile",
                         redirect_uri=public_url().rstrip("/") + CALLBACK_PATH, state=state,
                         token_endpoint_auth_method="client_secret_post", default_timeout=PROVIDER_TIMEOUT)


def vouched_email(account: dict, config: dict) -> tuple[str | None, bool]:
    """(the account's address, whether the provider says it is verified)."""
    email = account.get("email") if isinstance(account.get("email"), str) else None
    said = account.get("email_verified", account.get("verified"))
    return email, bool(email) and (said is True or (said is None and config["email_is_verified"]))


class FacebookSite:
    """Mixed into the gateway service (with `SitePages`)."""

    @page("GET", "/connexion/facebook")
    def facebook_start(self, request):
        config = facebook_config()
        if config is None:
            return error_page(404)
        state = secrets.token_urlsafe(24)
        url, _ = _client(config).create_authorization_url(config["FACEBOOK_AUTHORIZE_URL"], state=state)
        response = Page(request).finish(redirect(url, code=303))
        # Lax: sent back on the provider's top-level redirect to us, not on another site's requests.
        response.set_cookie(STATE_COOKIE, state, max_age=600, httponly=True, samesite="Lax",
                            secure=secure_cookies(), path="/connexion/facebook")
        return response

    @page("GET", CALLBACK_PATH)
    def facebook_return(self, request):
        config = facebook_config()
        if config is None:
            return error_page(404)
        page = Page(request)
        expected, state = request.cookies.get(STATE_COOKIE, ""), request.args.get("state", "")
        if not expected or not hmac.compare_digest(expected.encode(), state.encode()):
            return self._facebook_refused(page, 400, "La connexion avec Facebook a expiré ou ne vient pas de ce site : recommencez.")
        if request.args.get("error") or not request.args.get("code"):
            return self._facebook_refused(page, 400, "La connexion avec Facebook a été annulée.")
        try:
            client = _client(config, state=state)
            client.fetch_token(config["FACEBOOK_TOKEN_URL"], code=request.args["code"][:2000])
            answer = client.get(config["FACEBOOK_USERINFO_URL"])
            answer.raise_for_status()
            account = answer.json()
            subject = str(account["id"])
        except Exception as error:  # the provider's failure (network, OAuth error, a strange answer)
            log.warning("Facebook login failed at the provider: %s", type(error).__name__)
            return self._facebook_refused(page, 502, "Facebook n'a pas pu confirmer votre connexion : réessayez plus tard.")
        email, verified = vouched_email(account, config)
        try:
            if len(subject) > 200 or (email and len(email) > limits.EMAIL_MAX):
                raise ValidationFailed("Compte Facebook illisible.")
            session = self.services.call("members", "log_in_with_provider", "facebook", subject, email, verified)
        except DomainError as error:
            if error.status >= 429:
                raise
            return self._facebook_refused(page, error.status, error.message)
        page.rotate()
        response = set_session_cookie(page.finish(redirect("/profil", code=303)), session["token"])
        response.delete_cookie(STATE_COOKIE, path="/connexion/facebook")
        return response

    @staticmethod
    def _facebook_refused(page, status: int, message: str):
        """The login page again, saying why (the state cookie is used up either way)."""
        response = page.render("login.html", status=status, form={},
                               errors={"message": message, "fields": {}})
        response.delete_cookie(STATE_COOKIE, path="/connexion/facebook")
        return response
