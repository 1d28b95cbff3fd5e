"""The JSON API of the members service's resources (API.md §3, members and network).

The caller's identity and address travel in the worker's context data
(`self.services.context`), never as arguments.
"""
from __future__ import annotations

from umpnet_kernel.errors import ValidationFailed
from umpnet_kernel.paging import MAX_LIMIT

from .. import schemas
from ..auth import bearer_token, member_changed, require_actor, session_closed
from ..caching import invalidated_by, public_read
from ..http import api, json_body, json_response
from ..openapi import documented
from ..sessions_cache import SESSION_CHANGES, KeptSessions
from .lists import listing, page_request

# The members events that change what the public reads show: a sign-up adds to a
# federation's count, a profile edit may move a member to another federation
# (a new postcode), a verification may count once counts are of verified members.
# The themes are fixed reference data: no event changes them (their TTL is the net).
# An event that comes to change a count belongs here too (an erasure: one member fewer).
FEDERATION_CHANGES = ("members.MemberRegistered", "members.ProfileUpdated", "members.EmailVerified",
                      "members.MemberErased")


class MembersApi:
    """Mixed into the gateway service: `self.services` calls the services,
    `self.public_cache` forgets the public reads an event changed, `self.kept_sessions`
    the sessions it resolved (sessions_cache.py)."""

    kept_sessions = KeptSessions()

    @api("POST", "/api/members")
    @documented("Sign up: the same answer whether or not the address is registered (an email says which)",
                body=schemas.SignUpRequest, responses={202: schemas.Status})
    def sign_up(self, request):
        data = json_body(request, schemas.SignUpRequest)
        self.services.call("members", "register", data)
        # No id, no Location: the answer must not tell a new address from a registered one.
        return json_response({"status": "pending_verification"}, 202)

    @api("POST", "/api/members/verify")
    @documented("Verify an email address with the emailed token", body=schemas.VerifyRequest,
                responses={200: schemas.VerifyResult})
    def verify_email(self, request):
        data = json_body(request, schemas.VerifyRequest)
        return json_response(self.services.call("members", "verify_email", data["token"]))

    @api("POST", "/api/members/verify/resend")
    @documented("Send the verification email again", body=schemas.ResendVerificationRequest,
                responses={202: schemas.Status})
    def resend_verification(self, request):
        data = json_body(request, schemas.ResendVerificationRequest)
        self.services.call("members", "resend_verification", data["email"])
        # Same answer whether or not the address is known: no member enumeration.
        return json_response({"status": "sent_if_registered"}, 202)

    @api("POST", "/api/members/password-reset")
    @documented("Ask for a password reset link (sent if the address is registered)",
                body=schemas.PasswordResetRequest, responses={202: schemas.Status})
    def request_password_reset(self, request):
        data = json_body(request, schemas.PasswordResetRequest)
        self.services.call("members", "request_password_reset", data["email"])
        return json_response({"status": "sent_if_registered"}, 202)

    @api("POST", "/api/members/password-reset/confirm")
    @documented("Set a new password with the emailed token (single use, one hour); closes the other sessions",
                body=schemas.PasswordResetConfirm, responses={200: schemas.Status})
    def confirm_password_reset(self, request):
        data = json_body(request, schemas.PasswordResetConfirm)
        done = self.services.call("members", "reset_password", data["token"], data["password"])
        member_changed(self.services, done["member_id"])  # its other sessions are closed
        return json_response({"status": "password_changed"})

    @api("POST", "/api/sessions")
    @documented("Log in: returns a bearer token", body=schemas.LoginRequest, responses={200: schemas.SessionCreated})
    def log_in(self, request):
        data = json_body(request, schemas.LoginRequest)
        return json_response(self.services.call("members", "open_session", data["email"], data["password"]))

    @api("DELETE", "/api/sessions/current")
    @documented("Log out: the token stops working", responses={204: None}, auth=True)
    def log_out(self, request):
        _, token = require_actor(self.services, request)
        self.services.call("members", "close_session", token)
        session_closed(self.services, request, token)
        return 204, ""

    @api("GET", "/api/members/me")
    @documented("My full profile", responses={200: schemas.OwnProfile}, auth=True)
    def my_profile(self, request):
        actor, _ = require_actor(self.services, request)
        return json_response(self.services.call("members", "get_own_profile", actor["member_id"]))

    @api("PATCH", "/api/members/me")
    @documented("Edit my profile", body=schemas.ProfileUpdateRequest, responses={200: schemas.OwnProfile}, auth=True)
    def edit_my_profile(self, request):
        actor, _ = require_actor(self.services, request)
        changes = json_body(request, schemas.ProfileUpdateRequest, partial=True, required=True)
        if not changes:  # only unknown fields: nothing to change is a mistake, not a 200
            raise ValidationFailed("Indiquez au moins un champ à modifier.")
        profile = self.services.call("members", "update_own_profile", actor["member_id"], changes)
        member_changed(self.services, actor["member_id"])  # the federation may be another
        return json_response(profile)

    @api("GET", "/api/members/<id:member_id>")
    @documented("A member's public profile (with the email for an accepted contact)",
                responses={200: schemas.PublicMember}, auth=True)
    def member_profile(self, request, member_id):
        actor, _ = require_actor(self.services, request)
        profile = self.services.call("members", "get_public_profile", member_id, viewer_id=actor["member_id"])
        return json_response(profile)

    @api("PUT", "/api/members/<id:member_id>/roles")
    @documented("Set a member's roles", body=schemas.RolesRequest, responses={200: schemas.MemberWithRoles}, auth=True)
    def set_roles(self, request, member_id):
        actor, _ = require_actor(self.services, request)
        data = json_body(request, schemas.RolesRequest)
        profile = self.services.call("members", "set_roles", actor, member_id, data["roles"])
        member_changed(self.services, member_id)
        return json_response(profile)

    # Reference lists are short: by default one page holds the whole of them (API.md's
    # default of 50 would cut the 102 federations that clients have always had at once).
    @api("GET", "/api/federations")
    @documented("Every local federation (one per département) and the digital one, with its member count; "
                "one page holds the whole list unless ?limit asks for less", responses={200: schemas.FederationList})
    @public_read("federations", ttl=30, max_age=10)
    def federations(self, request):
        page = page_request(request, default_limit=MAX_LIMIT)  # a bad ?limit or ?cursor costs no RPC
        federations = self.services.call("members", "list_federations")
        return json_response(listing(federations, key=lambda f: (f["code"],), page=page))

    @api("GET", "/api/themes")
    @documented("The themes members follow; one page holds the whole list unless ?limit asks for less",
                responses={200: schemas.ThemeList})
    @public_read("themes", ttl=300, max_age=300)
    def themes(self, request):
        page = page_request(request, default_limit=MAX_LIMIT)
        themes = self.services.call("members", "list_themes")
        return json_response(listing(themes, key=lambda t: (t["slug"],), page=page))

    # One handler, so that an event both lists name comes once to each gateway process: the
    # federations' counts go, and the member's resolved sessions (their logout, a password reset
    # or an erasure elsewhere, their roles or federation changed).
    @invalidated_by("members", *sorted(set(FEDERATION_CHANGES) | set(SESSION_CHANGES)))
    def members_changed(self, event):
        if event["event_type"] in FEDERATION_CHANGES:
            self.public_cache.invalidate("federations")
        if event["event_type"] in SESSION_CHANGES:
            self.kept_sessions.forget_member(event["data"]["member_id"])
