"""The site's admin pages (French): the talents ranking, and a member's roles (issue 8 items 7, 8).

Who may see or change what is the members service's rule: the pages ask it
(`list_talents`, `role_choices`, `set_roles`) and show its refusals, in French.
Linked from the nav ("Talents", federation and national admins only) and from a
member's page ("Gérer ses rôles", for the admins who may change them).
"""
from __future__ import annotations

from werkzeug.utils import redirect

from umpnet_kernel.errors import DomainError, Forbidden

from ..api.contacts import member_id_of
from ..auth import member_changed
from ..api.lists import page_or_first
from ..api.talents import FEDERATION_MAX
from ..http import form_data
from .pages import Page, page

ADMIN_ROLES = ("federation_admin", "national_admin")
ROLE_LABELS = {
    "member": "Adhérent·e",
    "organizer": "Organisateur·rice",
    "candidate": "Candidat·e",
    "moderator": "Modérateur·rice",
    "federation_admin": "Administrateur·rice de fédération",
    "national_admin": "Administrateur·rice national·e",
}
SOURCE_LABELS = {
    "contacts": "Contacts noués",
    "profile": "Profil complété",
    "blog": "Blog renseigné",
    "invitations": "Invitations acceptées",
    "petitions_launched": "Pétitions lancées",
    "signatures_brought": "Signatures apportées",
    "contributions": "Contributions aux débats",
    "support_received": "Soutiens reçus en débat",
}


def is_admin(actor) -> bool:
    return bool(actor) and any(role in (actor.get("roles") or ()) for role in ADMIN_ROLES)


class AdminSite:
    """Mixed into the gateway service (with `SitePages`): `self.services` calls the services."""

    @page("GET", "/admin/talents")
    def talents_page(self, request):
        page = Page(request)
        actor, _ = self._visitor(request)
        if actor is None:
            return page.finish(redirect("/connexion", code=303))
        if not is_admin(actor):
            raise Forbidden("Le classement des talents est réservé aux administrateurs.")
        national = "national_admin" in actor["roles"]
        federation = request.args.get("federation", "").strip()[:FEDERATION_MAX] if national else ""
        wanted = page_or_first(request)
        ranking = self.services.call("members", "list_talents", actor, federation or None,
                                     limit=wanted.limit, cursor=wanted.cursor)
        federations = self.federations_reference()
        names = {f["code"]: f["name"] for f in federations}
        shown = federation or ("" if national else actor["federation_code"])
        return page.render("talents.html", actor=actor, national=national, talents=ranking["items"],
                           next_cursor=ranking["next_cursor"], federation=federation,
                           federation_name=names.get(shown, ""),
                           federations=[f for f in federations if f["kind"] == "local"],
                           labels=SOURCE_LABELS, first=wanted.cursor is None)

    def may_manage_roles(self, actor, member_id: str) -> bool:
        """Whether the member's page links to the roles form (asks the members service for admins only)."""
        if not is_admin(actor) or member_id == actor["member_id"]:
            return False
        try:
            self.services.call("members", "role_choices", actor, member_id)
        except Forbidden:
            return False
        return True

    @page("GET,POST", "/membres/<id:member_id>/roles")
    def member_roles_page(self, request, member_id):
        """The roles an admin may grant this member, as checkboxes; the others they hold are kept."""
        page = Page(request)
        actor, _ = self._visitor(request)
        if actor is None:
            return page.finish(redirect("/connexion", code=303))
        member_id = member_id_of(member_id)
        if request.method == "POST":
            form = form_data(request)
            if not page.csrf_ok(form):
                return self._refuse_forgery(page)
        choices = self.services.call("members", "role_choices", actor, member_id)  # 403 / 404 as an error page
        done = False
        if request.method == "POST":
            grantable = choices["grantable"]
            asked = set(form.getlist("roles"))
            checked = [role for role in grantable if role in asked]
            kept = [role for role in choices["member"]["roles"] if role not in grantable]
            try:
                if asked - set(grantable):
                    raise Forbidden("Vous ne pouvez pas attribuer ce rôle.")
                updated = self.services.call("members", "set_roles", actor, member_id, kept + checked)
                member_changed(self.services, member_id)
            except DomainError as error:
                if error.status >= 429:
                    raise
                return page.refused("member_roles.html", error, actor=actor, member=choices["member"],
                                    grantable=grantable, labels=ROLE_LABELS, done=False)
            choices = {**choices, "member": {**choices["member"], "roles": updated["roles"]}}
            done = True
        return page.render("member_roles.html", actor=actor, member=choices["member"],
                           grantable=choices["grantable"], labels=ROLE_LABELS, done=done, errors=None)
