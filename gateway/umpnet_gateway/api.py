"""The JSON API of the members service's resources (API.md §3, members and network)."""
from __future__ import annotations

from . import schemas
from .auth import bearer_token, require_actor, sessions
from .http import api, json_body, json_response
from .openapi import documented


def listing(items: list) -> dict:
    """API.md §2 list shape, for lists that always fit in one page."""
    return {"items": items, "next_cursor": None}


class MembersApi:
    """Mixed into the gateway service: `self.services` calls the services."""

    @api("POST", "/api/members")
    @documented("Sign up (a verification email is sent)", body=schemas.SignUpRequest, responses={201: schemas.OwnProfile})
    def sign_up(self, request):
        data = json_body(request, schemas.SignUpRequest())
        profile = self.services.call("members", "register", data, self.services.context)
        return json_response(profile, 201, headers={"Location": f"/api/members/{profile['id']}"})

    @api("POST", "/api/members/verify")
    @documented("Verify an email address with the emailed token", body=schemas.VerifyRequest)
    def verify_email(self, request):
        data = json_body(request, schemas.VerifyRequest())
        return json_response(self.services.call("members", "verify_email", data["token"], self.services.context))

    @api("POST", "/api/members/verify/resend")
    @documented("Send the verification email again", body=schemas.ResendVerificationRequest, responses={202: None})
    def resend_verification(self, request):
        data = json_body(request, schemas.ResendVerificationRequest())
        self.services.call("members", "resend_verification", data["email"], self.services.context)
        # Same answer whether or not the address is known: no member enumeration.
        return json_response({"status": "sent_if_registered"}, 202)

    @api("POST", "/api/sessions")
    @documented("Log in: returns a bearer token", body=schemas.LoginRequest, responses={200: schemas.SessionCreated})
    def log_in(self, request):
        data = json_body(request, schemas.LoginRequest())
        return json_response(self.services.call("members", "open_session", data["email"], data["password"], self.services.context))

    @api("DELETE", "/api/sessions/current")
    @documented("Log out: the token stops working", responses={204: None}, auth=True)
    def log_out(self, request):
        require_actor(self.services, request)
        token = bearer_token(request)
        self.services.call("members", "close_session", token, self.services.context)
        sessions.forget(token)
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
        changes = json_body(request, schemas.ProfileUpdateRequest(), partial=True)
        profile = self.services.call("members", "update_own_profile", actor["member_id"], changes, self.services.context)
        return json_response(profile)

    @api("GET", "/api/members/<member_id>")
    @documented("A member's public profile", responses={200: schemas.PublicMember}, auth=True)
    def member_profile(self, request, member_id):
        require_actor(self.services, request)
        return json_response(self.services.call("members", "get_public_profile", member_id))

    @api("PUT", "/api/members/<member_id>/roles")
    @documented("Set a member's roles", body=schemas.RolesRequest, responses={200: schemas.PublicMember}, auth=True)
    def set_roles(self, request, member_id):
        actor, _ = require_actor(self.services, request)
        data = json_body(request, schemas.RolesRequest())
        profile = self.services.call("members", "set_roles", actor, member_id, data["roles"], self.services.context)
        return json_response(profile)

    @api("GET", "/api/federations")
    @documented("Every local federation (one per département) and the digital one", responses={200: schemas.FederationList})
    def federations(self, request):
        return json_response(listing(self.services.call("members", "list_federations")))

    @api("GET", "/api/themes")
    @documented("The themes members follow", responses={200: schemas.ThemeList})
    def themes(self, request):
        return json_response(listing(self.services.call("members", "list_themes")))
