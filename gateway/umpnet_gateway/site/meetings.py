"""The site's meetings pages (French, issue 10).

    /reunions                      upcoming meetings, as a list and on a map (the members map's Leaflet
                                   assets; static/meetings-map.js), around a postcode, by theme
    /reunions/{id}                 the meeting; register / unregister (members), publish / cancel (managers)
    /reunions/nouvelle             organizers and admins create a meeting
    /reunions/{id}/modifier        its organizer edits it
    /reunions/{id}/inscrits        its organizer sees the registrants and records attendance
    /reunions/calendrier           my secret calendar feed's address

Every form carries the CSRF token. Who may do what is the events service's decision, as on the API.
"""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from werkzeug.utils import redirect

from umpnet_kernel.errors import DomainError, ValidationFailed

from events import limits as meeting_limits

from .. import meeting_schemas
from ..api.meetings import calendar_url
from ..errors import error_answer
from ..http import form_data, load
from .map import TILES_CREDIT, map_page_policy, tile_url
from .pages import Page, form_errors, page, templates

templates.globals["meeting_limits"] = meeting_limits
PARIS = ZoneInfo("Europe/Paris")
CREATOR_ROLES = ("organizer", "federation_admin", "national_admin")
MEETING_FIELDS = ("title", "description", "starts_at", "ends_at", "address", "postcode", "capacity", "theme",
                  "federation_code", "online_url")


def paris_time(value: str) -> str:
    """An ISO instant as Paris shows it: « jeudi 10/12/2026 à 18 h 30 »."""
    try:
        moment = datetime.fromisoformat(value).astimezone(PARIS)
    except (TypeError, ValueError):
        return value or ""
    days = ("lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche")
    return f"{days[moment.weekday()]} {moment:%d/%m/%Y} à {moment:%H} h {moment:%M}"


def local_input(value: str) -> str:
    """An ISO instant as a datetime-local input shows it, in Paris time."""
    try:
        return datetime.fromisoformat(value).astimezone(PARIS).strftime("%Y-%m-%dT%H:%M")
    except (TypeError, ValueError):
        return value or ""


def from_local_input(value: str, field: str) -> str:
    """A datetime-local input's value (Paris time, no zone) as ISO 8601 with Paris's offset that day."""
    value = (value or "").strip()
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise ValidationFailed("Date invalide.", {field: ["Date et heure invalides."]}) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=PARIS)
    return moment.isoformat()


templates.filters["paris_time"] = paris_time


def may_create(actor) -> bool:
    return bool(actor) and any(role in (actor.get("roles") or ()) for role in CREATOR_ROLES)


class MeetingsSite:
    """Mixed into the gateway service (with `SitePages`): `self.services` calls the services."""

    def _meeting_form_values(self, actor) -> dict:
        national = "national_admin" in (actor.get("roles") or ())
        federations = [f for f in self.federations_reference() if f["kind"] == "local"]
        if not national:
            federations = [f for f in federations if f["code"] == actor.get("federation_code")]
        return dict(themes=self._themes(), actor=actor, federations=federations)

    def _meeting_body(self, posted, *, creating: bool) -> tuple[dict, dict]:
        form = {name: posted.get(name, "").strip() for name in MEETING_FIELDS}
        form["description"] = posted.get("description", "").replace("\r\n", "\n").replace("\r", "\n")
        body = {"title": form["title"], "description": form["description"], "address": form["address"],
                "postcode": form["postcode"], "theme": form["theme"],
                "starts_at": from_local_input(form["starts_at"], "starts_at"),
                "ends_at": from_local_input(form["ends_at"], "ends_at"),
                "capacity": int(form["capacity"]) if form["capacity"].isdigit() else form["capacity"],
                "online_url": form["online_url"] or (None if creating else "")}
        if creating:
            body["federation_code"] = form["federation_code"] or None
            body["draft"] = posted.get("draft") == "1"
        return form, body

    @page("GET", "/reunions")
    def meetings_page(self, request):
        page = Page(request)
        actor, _ = self._visitor(request)
        themes = self._themes()
        args = request.args
        form = {"postcode": (args.get("postcode") or "").strip()[:5], "radius_km": (args.get("radius_km") or "30")[:4],
                "theme": (args.get("theme") or "").strip()}
        if form["theme"] not in {t["slug"] for t in themes}:
            form["theme"] = ""
        filters = {k: v for k, v in form.items() if v and (k != "radius_km" or form["postcode"])}
        errors, status = None, 200
        try:
            listed = self.services.call("events", "list_meetings", filters, limit=100)
        except DomainError as error:
            if error.status >= 429:
                raise
            errors, status = form_errors(error), error_answer(error).status
            listed = self.services.call("events", "list_meetings", {}, limit=100)
        tiles = tile_url()
        return page.render("meetings.html", status=status, headers={"Content-Security-Policy": map_page_policy(tiles)},
                           actor=actor, meetings=listed["items"], themes=themes, form=form, errors=errors,
                           theme_names={t["slug"]: t["name"] for t in themes}, may_create=may_create(actor),
                           tiles=tiles, tiles_credit=TILES_CREDIT if tiles else "",
                           points=[{k: m[k] for k in ("id", "title", "lat", "lon", "city")} for m in listed["items"]])

    @page("GET,POST", "/reunions/<id:meeting_id>")
    def meeting_page(self, request, meeting_id):
        page = Page(request)
        actor, _ = self._visitor(request)
        done, errors, status, headers = None, None, 200, None
        if request.method == "POST":
            posted = form_data(request)
            if not page.csrf_ok(posted):
                return self._refuse_forgery(page)
            if actor is None:
                return page.finish(redirect("/connexion", code=303))
            action = posted.get("action")
            try:
                if action == "register":
                    answer = self.services.call("events", "register_for_meeting", meeting_id)
                    done = ("Vous êtes inscrit : votre place est confirmée." if answer["status"] == "confirmed"
                            else f"La réunion est complète : vous êtes en liste d’attente (n° {answer.get('position')}).")
                elif action == "unregister":
                    self.services.call("events", "unregister_from_meeting", meeting_id)
                    done = "Vous êtes désinscrit."
                elif action == "publish":
                    self.services.call("events", "publish_meeting", meeting_id)
                    done = "La réunion est publiée."
                elif action == "cancel":
                    reason = (posted.get("reason") or "").strip()[:meeting_limits.REASON_MAX]
                    self.services.call("events", "cancel_meeting", meeting_id, {"reason": reason})
                    done = "La réunion est annulée : les inscrits sont prévenus."
            except DomainError as error:
                answer = error_answer(error)
                errors, status, headers = form_errors(error), answer.status, answer.headers
        meeting = self.services.call("events", "get_meeting", meeting_id)
        themes = {t["slug"]: t["name"] for t in self._themes()}
        return page.render("meeting.html", status=status, headers=headers, actor=actor, meeting=meeting,
                           theme_names=themes, done=done, errors=errors)

    @page("GET,POST", "/reunions/nouvelle")
    def new_meeting_page(self, request):
        page = Page(request)
        actor, _ = self._visitor(request)
        if actor is None:
            return page.finish(redirect("/connexion", code=303))
        values = self._meeting_form_values(actor)
        if request.method != "POST":
            return page.render("meeting_form.html", form={"capacity": "30"}, errors=None, meeting=None, **values)
        posted = form_data(request, multiline=("description",))
        if not page.csrf_ok(posted):
            return self._refuse_forgery(page)
        form = {name: posted.get(name, "") for name in MEETING_FIELDS}
        try:
            form, body = self._meeting_body(posted, creating=True)
            created = self.services.call("events", "create_meeting", load(meeting_schemas.MeetingRequest, body))
        except DomainError as error:
            return page.refused("meeting_form.html", error, form=form, meeting=None, **values)
        return page.finish(redirect(f"/reunions/{created['id']}", code=303))

    @page("GET,POST", "/reunions/<id:meeting_id>/modifier")
    def edit_meeting_page(self, request, meeting_id):
        page = Page(request)
        actor, _ = self._visitor(request)
        if actor is None:
            return page.finish(redirect("/connexion", code=303))
        meeting = self.services.call("events", "get_meeting", meeting_id)
        if not meeting.get("managed"):
            return page.render("error.html", status=403, title="Accès refusé",
                               message="Seul l’organisateur de cette réunion la modifie.")
        values = self._meeting_form_values(actor)
        if request.method != "POST":
            form = {**{name: meeting.get(name) or "" for name in MEETING_FIELDS},
                    "starts_at": local_input(meeting["starts_at"]), "ends_at": local_input(meeting["ends_at"]),
                    "capacity": str(meeting["capacity"])}
            return page.render("meeting_form.html", form=form, errors=None, meeting=meeting, **values)
        posted = form_data(request, multiline=("description",))
        if not page.csrf_ok(posted):
            return self._refuse_forgery(page)
        form = {name: posted.get(name, "") for name in MEETING_FIELDS}
        try:
            form, body = self._meeting_body(posted, creating=False)
            self.services.call("events", "edit_meeting", meeting_id, load(meeting_schemas.MeetingChanges, body))
        except DomainError as error:
            return page.refused("meeting_form.html", error, form=form, meeting=meeting, **values)
        return page.finish(redirect(f"/reunions/{meeting_id}", code=303))

    @page("GET,POST", "/reunions/<id:meeting_id>/inscrits")
    def registrants_page(self, request, meeting_id):
        page = Page(request)
        actor, _ = self._visitor(request)
        if actor is None:
            return page.finish(redirect("/connexion", code=303))
        done, errors, status = None, None, 200
        if request.method == "POST":
            posted = form_data(request)
            if not page.csrf_ok(posted):
                return self._refuse_forgery(page)
            try:
                data = load(meeting_schemas.AttendanceRequest, {"member_id": posted.get("member_id", "")})
                self.services.call("events", "record_attendance", meeting_id, data)
                done = "Présence enregistrée."
            except DomainError as error:
                errors, status = form_errors(error), error_answer(error).status
        meeting = self.services.call("events", "get_meeting", meeting_id)
        registrants = self.services.call("events", "registrants", meeting_id, limit=500)["items"]
        names = self.services.call("members", "display_names", [
            r["member_id"] for r in registrants if not r["member_id"].startswith("erased-")])
        return page.render("meeting_registrants.html", status=status, actor=actor, meeting=meeting,
                           registrants=registrants, names=names, done=done, errors=errors)

    @page("GET", "/reunions/calendrier")
    def calendar_page(self, request):
        page = Page(request)
        actor, _ = self._visitor(request)
        if actor is None:
            return page.finish(redirect("/connexion", code=303))
        key = self.services.call("events", "calendar_feed_key")["key"]
        mine = self.services.call("events", "my_meetings", actor["member_id"], limit=100)["items"]
        return page.render("meeting_calendar.html", actor=actor, url=calendar_url(key), meetings=mine,
                           headers={"Cache-Control": "private, no-store"})
