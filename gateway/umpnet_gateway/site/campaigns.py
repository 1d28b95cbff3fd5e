"""The site's campaign pages, for federation and national admins (French).

    /admin/campagnes         my campaigns, and the form to draft one (subject, Markdown body, segment)
    /admin/campagnes/{id}    its preview as it will be emailed, its count, its status; the button to send it

Who may write to whom is the mailer's decision, as on the API: a member who is no admin
is refused by it (403), another author's campaign is a 404. Forms carry the CSRF token.
"""
from __future__ import annotations

from werkzeug.utils import redirect

from umpnet_kernel.errors import DomainError, Forbidden

from mailer import limits as mailer_limits

from .. import campaign_schemas
from ..http import form_data, load
from .pages import Page, page, templates
from .petitions import is_admin

templates.globals["mailer_limits"] = mailer_limits
FIELDS = ("subject", "body_markdown", "federations", "postcode", "radius_km", "top_blogs")
ROLE_NAMES = {"organizer": "Organisateurs", "candidate": "Candidats", "moderator": "Modérateurs",
              "federation_admin": "Administrateurs de fédération", "national_admin": "Administrateurs nationaux"}


def campaign_request(posted) -> dict:
    """The form as `POST /api/campaigns` takes it: lists from checkboxes and a comma-separated field."""
    segment = {}
    federations = [code.strip() for code in posted.get("federations", "").split(",") if code.strip()]
    if federations:
        segment["federations"] = federations
    for name in ("themes", "roles"):
        chosen = [value for value in posted.getlist(name) if value]
        if chosen:
            segment[name] = chosen
    postcode, radius = posted.get("postcode", "").strip(), posted.get("radius_km", "").strip()
    if postcode or radius:
        segment["near"] = {"postcode": postcode, "radius_km": int(radius) if radius.isdigit() else radius}
    top = posted.get("top_blogs", "").strip()
    if top:
        segment["top_blogs"] = int(top) if top.isdigit() else top
    body = posted.get("body_markdown", "").replace("\r\n", "\n").replace("\r", "\n")
    return {"subject": posted.get("subject", "").strip(), "body_markdown": body, "segment": segment}


class CampaignsSite:
    """Mixed into the gateway service (with `SitePages`): `self.services` calls the services."""

    def _campaign_values(self, actor) -> dict:
        return {"actor": actor, "themes": self._themes(), "roles": ROLE_NAMES}

    @page("GET,POST", "/admin/campagnes")
    def campaigns_page(self, request):
        page = Page(request)
        actor, _ = self._visitor(request)
        if actor is None:
            return page.finish(redirect("/connexion", code=303))
        if not is_admin(actor):
            raise Forbidden("Réservé aux administrateurs de fédération et nationaux.")
        values = self._campaign_values(actor)
        mine = self.services.call("mailer", "my_campaigns", limit=50)["items"]
        if request.method != "POST":
            return page.render("campaigns.html", form={}, chosen={}, errors=None, campaigns=mine, **values)
        posted = form_data(request, multiline=("body_markdown",))
        if not page.csrf_ok(posted):
            return self._refuse_forgery(page)
        form = {name: posted.get(name, "") for name in FIELDS}
        chosen = {"themes": posted.getlist("themes"), "roles": posted.getlist("roles")}
        try:
            data = load(campaign_schemas.CampaignRequest, campaign_request(posted))
            created = self.services.call("mailer", "create_campaign", data)
        except DomainError as error:
            return page.refused("campaigns.html", error, form=form, chosen=chosen, campaigns=mine, **values)
        return page.finish(redirect(f"/admin/campagnes/{created['id']}", code=303))

    @page("GET,POST", "/admin/campagnes/<id:campaign_id>")
    def campaign_page(self, request, campaign_id):
        page = Page(request)
        actor, _ = self._visitor(request)
        if actor is None:
            return page.finish(redirect("/connexion", code=303))
        campaign = self.services.call("mailer", "campaign_preview", campaign_id)  # 404 unless its author
        if request.method != "POST":
            return page.render("campaign.html", campaign=campaign, errors=None, actor=actor)
        posted = form_data(request)
        if not page.csrf_ok(posted):
            return self._refuse_forgery(page)
        try:
            self.services.call("mailer", "send_campaign", campaign["id"])
        except DomainError as error:
            return page.refused("campaign.html", error, campaign=campaign, actor=actor)
        return page.finish(redirect(f"/admin/campagnes/{campaign['id']}", code=303))
