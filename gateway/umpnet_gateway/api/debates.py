"""The JSON API of debates (API.md "Debates", issue 11), kept by the debates service.

    GET    /api/debates                          ?scope&federation&theme&q&sort=activity|date, paged; anyone
    POST   /api/debates                          member -> 201
    GET    /api/debates/{id}                     anyone (candidates' debates: candidates, moderators, admins);
                                                 ?sort=newest|support|discussed, paged by top-level contribution
    POST   /api/debates/{id}/contributions       member -> 201
    GET    /api/contributions/{id}/replies       a thread's replies, paged (a debate's page shows 10 of each)
    PATCH  /api/contributions/{id}               its author, within 15 minutes
    POST   /api/contributions/{id}/votes         member -> 200 {score}; DELETE withdraws
    POST   /api/contributions/{id}/reports       member -> 201
    GET    /api/moderation/reports               moderators: the queue
    POST   /api/contributions/{id}/hide|restore  the debate's moderators
    POST   /api/debates/{id}/close               the debate's moderators
    POST   /api/members/{id}/debate-suspension   moderators
    GET|PUT /api/members/me/debate-notifications my choice: digest (default) or each reply

Who may do what is the debates service's decision (services/debates/debates/application.py),
from the caller's roles and federation that `auth.actor_of` puts in the call context.
"""
from __future__ import annotations

from umpnet_kernel.errors import ValidationFailed

from .. import debate_schemas as schemas
from ..auth import actor_of, bearer_token, require_actor
from ..http import api, json_body, json_response
from ..openapi import documented
from .lists import page_request, paged

FILTERS = ("scope", "federation", "theme", "q", "sort")
FILTER_MAX = 200


def list_filters(args) -> dict:
    filters = {}
    for name in FILTERS:
        value = (args.get(name) or "").strip()
        if len(value) > FILTER_MAX:
            raise ValidationFailed("Filtre invalide.", {name: [f"{FILTER_MAX} caractères au plus."]})
        if value:
            filters[name] = value
    return filters


class DebatesApi:
    """Mixed into the gateway service: `self.services` calls the services."""

    def _caller(self, request):
        return actor_of(self.services, request, bearer_token(request))

    @api("GET", "/api/debates")
    @documented("Debates, by latest activity (or ?sort=date); ?q= searches them and their contributions in French",
                responses={200: schemas.DebateList},
                query={"scope": "string", "federation": "string", "theme": "string", "q": "string", "sort": "string"})
    def debates(self, request):
        self._caller(request)
        return json_response(paged(self.services, request, "debates", "list_debates", list_filters(request.args)))

    @api("POST", "/api/debates")
    @documented("Open a debate: national (moderators, national admins), local (in my federation), "
                "candidates (candidates, moderators)", body=schemas.DebateRequest,
                responses={201: schemas.Debate}, auth=True)
    def open_debate(self, request):
        require_actor(self.services, request)
        data = json_body(request, schemas.DebateRequest)
        return json_response(self.services.call("debates", "open_debate", data), 201)

    @api("GET", "/api/debates/<id:debate_id>")
    @documented("A debate with a page of its top-level contributions, each followed by its thread",
                responses={200: schemas.DebatePage}, query={"sort": "string"})
    def debate(self, request, debate_id):
        self._caller(request)
        page = page_request(request)
        sort = (request.args.get("sort") or "").strip()[:FILTER_MAX] or None
        return json_response(self.services.call("debates", "get_debate", debate_id, sort=sort, limit=page.limit,
                                                cursor=page.cursor))

    @api("POST", "/api/debates/<id:debate_id>/contributions")
    @documented("Write in a debate, or reply to a contribution (parent_id)", body=schemas.ContributionRequest,
                responses={201: schemas.Contribution}, auth=True)
    def post_contribution(self, request, debate_id):
        require_actor(self.services, request)
        data = json_body(request, schemas.ContributionRequest)
        return json_response(self.services.call("debates", "post_contribution", debate_id, data), 201)

    @api("GET", "/api/contributions/<id:contribution_id>")
    @documented("A contribution", responses={200: schemas.Contribution})
    def contribution(self, request, contribution_id):
        self._caller(request)
        return json_response(self.services.call("debates", "get_contribution", contribution_id))

    @api("GET", "/api/contributions/<id:contribution_id>/replies")
    @documented("Every reply of a thread, oldest first (a debate's page shows the first 10 of each)",
                responses={200: schemas.ContributionList})
    def contribution_replies(self, request, contribution_id):
        self._caller(request)
        return json_response(paged(self.services, request, "debates", "replies", contribution_id))

    @api("PATCH", "/api/contributions/<id:contribution_id>")
    @documented("Rewrite my contribution (within 15 minutes of posting it)", body=schemas.EditRequest,
                responses={200: schemas.Contribution}, auth=True)
    def edit_contribution(self, request, contribution_id):
        require_actor(self.services, request)
        data = json_body(request, schemas.EditRequest, required=True)
        return json_response(self.services.call("debates", "edit_contribution", contribution_id, data))

    @api("POST", "/api/contributions/<id:contribution_id>/votes")
    @documented("Vote +1 or -1 (again: replaces my vote; 0 withdraws it); never on my own",
                body=schemas.VoteRequest, responses={200: schemas.VoteAnswer}, auth=True)
    def vote(self, request, contribution_id):
        require_actor(self.services, request)
        data = json_body(request, schemas.VoteRequest)
        return json_response(self.services.call("debates", "vote", contribution_id, data))

    @api("DELETE", "/api/contributions/<id:contribution_id>/votes")
    @documented("Withdraw my vote", responses={200: schemas.VoteAnswer}, auth=True)
    def withdraw_vote(self, request, contribution_id):
        require_actor(self.services, request)
        return json_response(self.services.call("debates", "vote", contribution_id, {"value": 0}))

    @api("POST", "/api/contributions/<id:contribution_id>/reports")
    @documented("Report a contribution to the moderators (once)", body=schemas.ReasonRequest,
                responses={201: schemas.ReportAnswer}, auth=True)
    def report(self, request, contribution_id):
        require_actor(self.services, request)
        data = json_body(request, schemas.ReasonRequest)
        return json_response(self.services.call("debates", "report", contribution_id, data), 201)

    @api("GET", "/api/moderation/reports")
    @documented("The moderation queue: open reports of the debates I moderate, newest first",
                responses={200: schemas.ReportList}, auth=True)
    def moderation_reports(self, request):
        require_actor(self.services, request)
        return json_response(paged(self.services, request, "debates", "moderation_queue"))

    @api("POST", "/api/contributions/<id:contribution_id>/hide")
    @documented("Hide a contribution, with the reason its author sees (the debate's moderators)",
                body=schemas.ReasonRequest, responses={200: schemas.Contribution}, auth=True)
    def hide_contribution(self, request, contribution_id):
        require_actor(self.services, request)
        data = json_body(request, schemas.ReasonRequest)
        return json_response(self.services.call("debates", "hide", contribution_id, data))

    @api("POST", "/api/contributions/<id:contribution_id>/restore")
    @documented("Show a hidden contribution again (the debate's moderators)", body=schemas.ReasonRequest,
                responses={200: schemas.Contribution}, auth=True)
    def restore_contribution(self, request, contribution_id):
        require_actor(self.services, request)
        data = json_body(request, schemas.ReasonRequest)
        return json_response(self.services.call("debates", "restore", contribution_id, data))

    @api("POST", "/api/debates/<id:debate_id>/close")
    @documented("Close a debate with a synthesis: read-only afterwards (its moderators)", body=schemas.CloseRequest,
                responses={200: schemas.DebatePage}, auth=True)
    def close_debate(self, request, debate_id):
        require_actor(self.services, request)
        data = json_body(request, schemas.CloseRequest)
        return json_response(self.services.call("debates", "close_debate", debate_id, data))

    @api("POST", "/api/members/<id:member_id>/debate-suspension")
    @documented("Suspend a member from debating until a date (moderators)", body=schemas.SuspensionRequest,
                responses={200: schemas.Suspension}, auth=True)
    def suspend_debater(self, request, member_id):
        require_actor(self.services, request)
        data = json_body(request, schemas.SuspensionRequest)
        return json_response(self.services.call("debates", "suspend", member_id, data))

    @api("GET", "/api/members/me/debate-notifications")
    @documented("How I hear of replies to my contributions: digest (daily, the default) or each",
                responses={200: schemas.Notifications}, auth=True)
    def debate_notifications(self, request):
        require_actor(self.services, request)
        return json_response(self.services.call("debates", "notifications"))

    @api("PUT", "/api/members/me/debate-notifications")
    @documented("Choose how I hear of replies: digest or each", body=schemas.NotificationsRequest,
                responses={200: schemas.Notifications}, auth=True)
    def choose_debate_notifications(self, request):
        require_actor(self.services, request)
        data = json_body(request, schemas.NotificationsRequest)
        return json_response(self.services.call("debates", "choose_notifications", data))
