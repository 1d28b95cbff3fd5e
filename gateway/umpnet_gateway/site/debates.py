"""The site's debates pages (French, issue 11).

    /debats                 the list: filtered by scope and theme, searched (?q=), paged
    /debats/nouveau         open a debate
    /debats/{id}            the debate, its threads (?sort=newest|support|discussed), the forms to write,
                            reply, vote, report, and for its moderators to hide, restore and close
    /debats/{id}/fil/{cid}  a whole thread (a debate's page shows the first replies of each)
    /debats/{id}/modifier/{cid}  the author rewrites their contribution (within the service's 15 minutes)
    /debats/notifications   POST: how I hear of replies (digest or each)
    /moderation             the moderators' queue; POST: suspend a contribution's author

Every form is a POST with its CSRF token, answered by a redirect (303) back to the page.
Contributions' HTML is the debates service's, rendered from Markdown and sanitised with
nh3 when written: the templates mark it safe and nothing else. Who may do what is the
debates service's decision, as on the API.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from urllib.parse import urlencode

from werkzeug.utils import redirect

from umpnet_kernel.errors import DomainError, ValidationFailed

from debates import limits as debate_limits

from .. import debate_schemas
from ..api.lists import page_or_first
from ..errors import error_answer
from ..http import form_data, load
from .pages import error_page, form_errors, page, Page, templates

templates.globals["debate_limits"] = debate_limits

SCOPE_NAMES = {"national": "National", "local": "Local", "candidates": "Atelier des candidats"}
SORT_NAMES = {"support": "Les plus soutenues", "newest": "Les plus récentes", "discussed": "Les plus discutées"}
ACTIONS = ("contribute", "vote", "report", "hide", "restore", "close")
THREAD_PAGE = 200  # replies on a page of a thread
SUSPENSION_DAYS = ("1", "3", "7", "30")


def thread_tree(contributions: list[dict]) -> list[dict]:
    """The page's contributions as trees: each with its `children`, in the page's order."""
    nodes = {c["id"]: {**c, "children": [], "shown": 0} for c in contributions}
    roots = []
    for contribution in contributions:
        node = nodes[contribution["id"]]
        parent = nodes.get(contribution["parent_id"]) if contribution["parent_id"] else None
        (parent["children"] if parent else roots).append(node)
    # A page holds the oldest replies of each thread (a parent is older than its replies, so none
    # is orphaned): each root says how many are shown, against its `replies` (all of them).
    def size(node):
        return 1 + sum(size(child) for child in node["children"])

    for root in roots:
        root["shown"] = size(root) - 1
    return roots


class DebatesSite:
    """Mixed into the gateway service (with `SitePages`): `self.services` calls the services."""

    @page("GET", "/debats")
    def debates_page(self, request):
        page = Page(request)
        actor, _ = self._visitor(request)
        themes = self._themes()
        filters = {}
        for name in ("scope", "theme", "q"):
            value = (request.args.get(name) or "").strip()[:200]
            if value:
                filters[name] = value
        if filters.get("theme") not in {t["slug"] for t in themes}:
            filters.pop("theme", None)
        if filters.get("scope") not in SCOPE_NAMES:
            filters.pop("scope", None)
        wanted = page_or_first(request)
        status, errors = 200, None
        try:
            listed = self.services.call("debates", "list_debates", filters, limit=wanted.limit, cursor=wanted.cursor)
        except DomainError as error:  # a candidates' filter without the role
            listed, errors = {"items": [], "next_cursor": None}, form_errors(error)
            status = 403
        query = urlencode(filters)
        mode = self.services.call("debates", "notifications")["mode"] if actor is not None else None
        return page.render("debates.html", status=status, actor=actor, debates=listed["items"], mode=mode,
                           saved=request.args.get("enregistre") == "1",
                           next_cursor=listed["next_cursor"], themes=themes, filters=filters, query=query,
                           theme_names={t["slug"]: t["name"] for t in themes}, scope_names=SCOPE_NAMES,
                           errors=errors)

    @page("GET,POST", "/debats/nouveau")
    def new_debate_page(self, request):
        page = Page(request)
        actor, _ = self._visitor(request)
        if actor is None:
            return page.finish(redirect("/connexion", code=303))
        values = dict(actor=actor, themes=self._themes(), scope_names=SCOPE_NAMES)
        if request.method != "POST":
            return page.render("debate_new.html", form={"scope": "local"}, errors=None, **values)
        posted = form_data(request, multiline=("body",))
        if not page.csrf_ok(posted):
            return self._refuse_forgery(page)
        form = {name: posted.get(name, "") for name in ("title", "body", "scope", "theme")}
        try:
            data = load(debate_schemas.DebateRequest, {
                "title": form["title"].strip(), "body": form["body"].replace("\r\n", "\n"),
                "scope": form["scope"], "theme": form["theme"]})
            created = self.services.call("debates", "open_debate", data)
        except DomainError as error:
            return page.refused("debate_new.html", error, form=form, **values)
        return page.finish(redirect(f"/debats/{created['id']}", code=303))

    @page("GET,POST", "/debats/<id:debate_id>")
    def debate_page(self, request, debate_id):
        page = Page(request)
        actor, _ = self._visitor(request)
        sort = request.args.get("sort") if request.args.get("sort") in SORT_NAMES else "support"
        errors, status, headers, form = None, 200, None, {}
        if request.method == "POST":
            posted = form_data(request, multiline=("body", "synthesis"))
            if not page.csrf_ok(posted):
                return self._refuse_forgery(page)
            if actor is None:
                return page.finish(redirect("/connexion", code=303))
            try:
                anchor = self._act(debate_id, posted)
                return page.finish(redirect(f"/debats/{debate_id}?sort={sort}{anchor}", code=303))
            except DomainError as error:
                errors = form_errors(error)
                answer = error_answer(error)
                status, headers = answer.status, answer.headers
                form = {"body": posted.get("body", ""), "parent_id": posted.get("parent_id", "")}
        wanted = page_or_first(request)
        debate = self.services.call("debates", "get_debate", debate_id, sort=sort, limit=wanted.limit,
                                    cursor=wanted.cursor)
        themes = {t["slug"]: t["name"] for t in self._themes()}
        return page.render("debate.html", status=status, headers=headers, actor=actor, debate=debate,
                           threads=thread_tree(debate["contributions"]), sort=sort, sort_names=SORT_NAMES,
                           scope_names=SCOPE_NAMES, theme_names=themes, errors=errors, form=form)

    def _act(self, debate_id: str, posted) -> str:
        """Do what the form asks; the anchor to come back to."""
        action = posted.get("action")
        contribution_id = (posted.get("contribution_id") or "")[:100]
        if action == "contribute":
            body = posted.get("body", "").replace("\r\n", "\n")
            data = load(debate_schemas.ContributionRequest, {"body": body,
                                                               "parent_id": posted.get("parent_id") or None})
            created = self.services.call("debates", "post_contribution", debate_id, data)
            return f"#c-{created['id']}"
        if action == "vote":
            value = {"1": 1, "-1": -1, "0": 0}.get(posted.get("value", ""), "?")
            self.services.call("debates", "vote", contribution_id, load(debate_schemas.VoteRequest, {"value": value}))
            return f"#c-{contribution_id}"
        if action in ("report", "hide", "restore"):
            data = load(debate_schemas.ReasonRequest, {"reason": posted.get("reason", "").strip()})
            self.services.call("debates", action, contribution_id, data)
            return f"#c-{contribution_id}"
        if action == "close":
            data = load(debate_schemas.CloseRequest, {"synthesis": posted.get("synthesis", "").replace("\r\n", "\n")})
            self.services.call("debates", "close_debate", debate_id, data)
            return ""
        raise ValidationFailed("Action inconnue.")

    @page("GET,POST", "/debats/<id:debate_id>/modifier/<id:contribution_id>")
    def edit_contribution_page(self, request, debate_id, contribution_id):
        """The author's form to rewrite a contribution: it starts from the text as written (the
        service's `edit_source`, which refuses as the edit would: another member, too late, hidden)."""
        page = Page(request)
        actor, _ = self._visitor(request)
        if request.method == "POST":
            posted = form_data(request, multiline=("body",))
            if not page.csrf_ok(posted):
                return self._refuse_forgery(page)
        if actor is None:
            return page.finish(redirect("/connexion", code=303))

        def refused(error, form):  # the form again, with the debate's title and the service's reason
            debate = self.services.call("debates", "get_debate", debate_id, limit=1)
            return page.refused("debate_edit.html", error, form=form, actor=actor, debate=debate,
                                contribution_id=contribution_id)

        try:  # a read: refused as the edit would be, and whose debate the contribution is in
            source = self.services.call("debates", "edit_source", contribution_id)
        except DomainError as error:
            return refused(error, None)
        if source["debate_id"] != debate_id:
            return error_page(404)
        if request.method == "POST":
            form = {"body": posted.get("body", "").replace("\r\n", "\n")}
            try:
                data = load(debate_schemas.EditRequest, {"body": form["body"]})
                self.services.call("debates", "edit_contribution", contribution_id, data)
            except DomainError as error:
                return refused(error, form)
            return page.finish(redirect(f"/debats/{debate_id}#c-{contribution_id}", code=303))
        debate = self.services.call("debates", "get_debate", debate_id, limit=1)
        return page.render("debate_edit.html", form={"body": source["body"]}, errors=None, actor=actor, debate=debate,
                           contribution_id=contribution_id)

    @page("GET", "/debats/<id:debate_id>/fil/<id:root_id>")
    def thread_page(self, request, debate_id, root_id):
        page = Page(request)
        actor, _ = self._visitor(request)
        debate = self.services.call("debates", "get_debate", debate_id, limit=1)
        root = self.services.call("debates", "get_contribution", root_id)
        if root["debate_id"] != debate_id:
            return error_page(404)
        wanted = page_or_first(request, default_limit=THREAD_PAGE)
        replies = self.services.call("debates", "replies", root_id, limit=wanted.limit, cursor=wanted.cursor)
        themes = {t["slug"]: t["name"] for t in self._themes()}
        contributions = [root, *replies["items"]]
        return page.render("debate.html", actor=actor, debate={**debate, "next_cursor": None},
                           threads=thread_tree(contributions), sort="newest", sort_names=SORT_NAMES,
                           scope_names=SCOPE_NAMES, theme_names=themes, errors=None, form={},
                           thread_next=replies["next_cursor"], thread_root=root_id)

    @page("POST", "/debats/notifications")
    def debate_notifications_page(self, request):
        page = Page(request)
        actor, _ = self._visitor(request)
        posted = form_data(request)
        if not page.csrf_ok(posted):
            return self._refuse_forgery(page)
        if actor is None:
            return page.finish(redirect("/connexion", code=303))
        data = load(debate_schemas.NotificationsRequest, {"mode": posted.get("mode", "")})
        self.services.call("debates", "choose_notifications", data)
        return page.finish(redirect("/debats?enregistre=1", code=303))

    @page("GET,POST", "/moderation")
    def moderation_page(self, request):
        page = Page(request)
        actor, _ = self._visitor(request)
        if actor is None:
            return page.finish(redirect("/connexion", code=303))
        errors, done, status, headers = None, None, 200, None
        if request.method == "POST":
            posted = form_data(request)
            if not page.csrf_ok(posted):
                return self._refuse_forgery(page)
            try:
                days = posted.get("days", "")
                if days not in SUSPENSION_DAYS:
                    raise ValidationFailed("Durée invalide.", {"days": ["Choisissez une durée."]})
                until = (datetime.now(timezone.utc) + timedelta(days=int(days))).isoformat()
                data = load(debate_schemas.SuspensionRequest, {"until": until,
                                                                 "reason": posted.get("reason", "").strip()})
                self.services.call("debates", "suspend", (posted.get("member_id") or "")[:100], data)
                done = f"Membre suspendu des débats pour {days} jours."
            except DomainError as error:
                errors = form_errors(error)
                answer = error_answer(error)
                status, headers = answer.status, answer.headers
        wanted = page_or_first(request)
        queue = self.services.call("debates", "moderation_queue", limit=wanted.limit, cursor=wanted.cursor)
        return page.render("moderation.html", status=status, headers=headers, actor=actor, reports=queue["items"],
                           next_cursor=queue["next_cursor"], errors=errors, done=done,
                           suspension_days=SUSPENSION_DAYS)
