"""The site's petitions pages (French, issue 9).

    /petitions                  the list, filtered by theme
    /petitions/{id}             the text, the count (kept live by static/petition.js), milestones,
                                the signing form (or one click for a member), the breakdown by département
    /petitions/{id}/widget      the counter for another site's <iframe> (framing allowed on this page only)
    /petitions/confirm?token=   the emailed link lands here: its GET shows a button, only its POST confirms
                                (a mail scanner that follows links confirms nothing)
    /petitions/nouvelle         admins launch, members propose

Who may do what is the petitions service's decision, as on the API.
"""
from __future__ import annotations

from datetime import date, datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo

from werkzeug.utils import redirect

from umpnet_geo import all_postcodes, get_departement, lookup_postcode
from umpnet_kernel.errors import DomainError, ValidationFailed
from umpnet_kernel.paging import PageRequest

from petitions import limits as petition_limits

from .. import petition_schemas
from ..api.petitions import COUNT_TTL, petition_url, share_link
from ..caching import public_read
from ..errors import error_answer
from ..http import form_data, load
from .map import TILES_CREDIT, map_page_policy, tile_url
from .pages import Page, form_errors, page, templates

# The petition forms show the limits the petitions service enforces, from the module that owns them.
templates.globals["petition_limits"] = petition_limits

PARIS = ZoneInfo("Europe/Paris")
# The widget is meant to be framed by any site: this page's own policy (the others forbid framing).
WIDGET_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors *",
    # No standard value allows every framer; browsers that read CSP ignore X-Frame-Options when
    # frame-ancestors is given, and an unknown value is ignored by the others.
    "X-Frame-Options": "ALLOWALL",
}
ADMIN_ROLES = ("federation_admin", "national_admin")
SIGN_FIELDS = ("email", "first_name", "last_name", "postcode", "contact_consent")
LAUNCH_FIELDS = ("title", "body", "theme", "goal", "ends_at", "federation_code", "draft")


def is_admin(actor) -> bool:
    return bool(actor) and any(role in (actor.get("roles") or ()) for role in ADMIN_ROLES)


def departement_name(code: str) -> str:
    found = get_departement(code) if code else None
    return found.name if found else code


@lru_cache(maxsize=1)
def departement_centres() -> dict[str, tuple[float, float]]:
    """Where to put a département's count on the map: the mean of its postcodes' positions
    (offline GeoNames data, computed once per process)."""
    sums: dict[str, list[float]] = {}
    for postcode in all_postcodes():
        place = lookup_postcode(postcode)
        if place is None or place.lat is None:
            continue
        total = sums.setdefault(place.departement_code, [0.0, 0.0, 0])
        total[0] += place.lat
        total[1] += place.lon
        total[2] += 1
    return {code: (round(lat / n, 4), round(lon / n, 4)) for code, (lat, lon, n) in sums.items()}


def map_points(rows: list[dict]) -> list[dict]:
    centres = departement_centres()
    return [{**row, "lat": centres[row["code"]][0], "lon": centres[row["code"]][1]}
            for row in rows if row["code"] in centres]


def end_of_day(value: str) -> str | None:
    """A date from the form (YYYY-MM-DD) as the end of that day in Paris, ISO 8601 with its zone."""
    if not value:
        return None
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed("Date invalide.", {"ends_at": ["Date invalide (AAAA-MM-JJ)."]}) from None
    return datetime.combine(day, time(23, 59, 59), PARIS).isoformat()


class PetitionsSite:
    """Mixed into the gateway service (with `SitePages`): `self.services` calls the services."""

    def _theme_names(self) -> dict:
        return {theme["slug"]: theme["name"] for theme in self._themes()}

    @page("GET", "/petitions")
    def petitions_page(self, request):
        page = Page(request)
        actor, _ = self._visitor(request)
        themes = self._themes()
        theme = request.args.get("theme", "").strip()
        if theme not in {t["slug"] for t in themes}:
            theme = ""
        try:
            wanted = PageRequest.parse(None, request.args.get("cursor"))
        except DomainError:
            wanted = PageRequest()  # a stale cursor in a bookmark: the first page
        filters = {"theme": theme} if theme else {}
        listed = self.services.call("petitions", "list_petitions", filters, limit=wanted.limit, cursor=wanted.cursor)
        return page.render("petitions.html", actor=actor, petitions=listed["items"], next_cursor=listed["next_cursor"],
                           themes=themes, theme=theme, theme_names=self._theme_names(),
                           may_create=actor is not None, admin=is_admin(actor))

    @page("GET,POST", "/petitions/<id:petition_id>")
    def petition_page(self, request, petition_id):
        page = Page(request)
        actor, _ = self._visitor(request)
        petition = self.services.call("petitions", "get_petition", petition_id)
        ref = (request.args.get("ref") or "")[:500]
        done, errors, status, headers, form = None, None, 200, None, {"ref": ref}
        if request.method == "POST":
            posted = form_data(request)
            if not page.csrf_ok(posted):
                return self._refuse_forgery(page)
            ref = (posted.get("ref") or "")[:500]
            form = {name: posted.get(name, "").strip() for name in SIGN_FIELDS}
            form["ref"] = ref
            try:
                action = posted.get("action")
                if action in ("publish", "close") and actor is not None:  # the service checks they administer it
                    if action == "publish":
                        self.services.call("petitions", "publish", petition_id)
                        done = "La pétition est publiée : elle reçoit des signatures."
                    else:
                        self.services.call("petitions", "close", petition_id, {"reason": ""})
                        done = "La pétition est close."
                elif action == "member" and actor is not None:
                    answer = self.services.call("petitions", "sign_as_member", petition_id, {"ref": ref or None})
                    done = "Votre signature est comptée. Merci !" if answer["new"] else "Vous avez déjà signé cette pétition."
                else:
                    data = load(petition_schemas.SignRequest, {
                        **{name: form[name] for name in ("email", "first_name", "last_name", "postcode")},
                        "contact_consent": posted.get("contact_consent") == "1", "ref": ref or None})
                    self.services.call("petitions", "sign", petition_id, data)
                    # The same words whether or not this address signed already.
                    done = ("Merci ! Un e-mail vient de vous être envoyé : cliquez sur son lien pour confirmer "
                            "votre signature. Elle ne compte qu’une fois confirmée.")
                    form = {"ref": ref}
                petition = self.services.call("petitions", "get_petition", petition_id)
            except DomainError as error:
                answer = error_answer(error)
                errors, status, headers = form_errors(error), answer.status, answer.headers
        breakdown = self.services.call("petitions", "breakdown", petition_id)["by_federation"]
        rows = sorted(({"code": row["code"], "name": departement_name(row["code"]), "count": row["count"]}
                       for row in breakdown), key=lambda row: (-row["count"], row["code"]))
        share = share_link(self.services, actor, petition_id) if actor is not None else None
        tiles = tile_url()
        headers = {**(headers or {}), "Content-Security-Policy": map_page_policy(tiles)}  # the map's tiles
        return page.render("petition.html", status=status, headers=headers, actor=actor, petition=petition,
                           points=map_points(rows), tiles=tiles, tiles_credit=TILES_CREDIT if tiles else "",
                           theme_names=self._theme_names(), breakdown=rows, done=done, errors=errors, form=form,
                           share=share, admin=is_admin(actor), url=petition_url(petition_id),
                           federation_name=departement_name(petition["federation"] or ""))

    @page("GET", "/petitions/<id:petition_id>/widget")
    @public_read("petitions", ttl=COUNT_TTL, max_age=COUNT_TTL)
    def petition_widget(self, request, petition_id):
        petition = self.services.call("petitions", "get_petition", petition_id)
        response = Page(request).render_public("petition_widget.html", petition=petition,
                                               url=petition_url(petition_id))
        response.headers.update(WIDGET_HEADERS)  # before `render_public`'s defaults are kept: replace them
        return response

    @page("GET,POST", "/petitions/confirm")
    def confirm_signature_page(self, request):
        page = Page(request)
        actor, _ = self._visitor(request)
        if request.method != "POST":
            token = (request.args.get("token") or "")[:500]
            return page.render("petition_confirm.html", actor=actor, token=token, confirmed=None, errors=None)
        posted = form_data(request)
        if not page.csrf_ok(posted):
            return self._refuse_forgery(page)
        token = (posted.get("token") or "")[:500]
        try:
            data = load(petition_schemas.ConfirmSignatureRequest, {"token": token})
            confirmed = self.services.call("petitions", "confirm_signature", data)
        except DomainError as error:
            return page.refused("petition_confirm.html", error, actor=actor, token=token, confirmed=None)
        petition = self.services.call("petitions", "get_petition", confirmed["petition_id"])
        return page.render("petition_confirm.html", actor=actor, token="", confirmed=petition, errors=None)

    @page("GET,POST", "/petitions/nouvelle")
    def new_petition_page(self, request):
        page = Page(request)
        actor, _ = self._visitor(request)
        if actor is None:
            return page.finish(redirect("/connexion", code=303))
        admin = is_admin(actor)
        national = "national_admin" in (actor.get("roles") or ())
        values = dict(themes=self._themes(), actor=actor, admin=admin, national=national,
                      federations=[f for f in self.federations_reference() if f["kind"] == "local"])
        if request.method != "POST":
            return page.render("petition_new.html", form={}, errors=None, **values)
        posted = form_data(request, multiline=("body",))
        if not page.csrf_ok(posted):
            return self._refuse_forgery(page)
        form = {name: posted.get(name, "").strip() for name in LAUNCH_FIELDS}
        try:
            goal = form["goal"]
            # Browsers send a textarea's line breaks as CRLF: the text's line breaks are LF.
            text = posted.get("body", "").replace("\r\n", "\n").replace("\r", "\n")
            body = {"title": form["title"], "body": text, "theme": form["theme"],
                    "goal": int(goal) if goal.isdigit() else goal, "ends_at": end_of_day(form["ends_at"]),
                    "federation_code": (form["federation_code"] or None) if national else None,
                    "draft": admin and posted.get("draft") == "1"}
            data = load(petition_schemas.PetitionRequest, body)
            if admin:
                created = self.services.call("petitions", "launch", data)
            else:
                data.pop("draft", None)
                created = self.services.call("petitions", "propose", data)
        except DomainError as error:
            form["body"] = posted.get("body", "")
            return page.refused("petition_new.html", error, form=form, **values)
        return page.finish(redirect(f"/petitions/{created['id']}", code=303))
