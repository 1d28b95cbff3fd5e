"""The member's rights over their data (GDPR): export and erasure (API.md §3, members).

The export asks every service whose manifest says it holds personal data
(`personal_data = true`: `umpnet_kernel.manifest.services_holding_personal_data`)
for what it holds (`export_personal_data`), and composes their answers,
`{members: {...}, mailer: {...}}`, as a JSON attachment. A service that does not
answer fails the whole export (503): an export that silently lacks a service
would lie. The erasure is the members service's (its password check, its
`members.MemberErased`, which the other services act on).
"""
from __future__ import annotations

from datetime import datetime, timezone

from umpnet_kernel.manifest import services_holding_personal_data

from .. import schemas
from ..auth import member_changed, require_actor
from ..http import api, json_body, json_response
from ..openapi import documented


def personal_data_of(services, member_id: str) -> dict:
    """What every service holds about the member, by service."""
    export = {"exported_at": datetime.now(timezone.utc), "member_id": member_id}
    for name in services_holding_personal_data():
        export[name] = services.call(name, "export_personal_data", member_id)
    return export


EXPORT_HEADERS = {
    "Content-Disposition": 'attachment; filename="mes-donnees-umpnet.json"',
    "Cache-Control": "no-store",
}


class PrivacyApi:
    """Mixed into the gateway service: `self.services` calls the services."""

    @api("GET", "/api/members/me/export")
    @documented("Everything every service holds about me, as a JSON attachment", auth=True,
                responses={200: None})
    def export_my_data(self, request):
        actor, _ = require_actor(self.services, request)
        return json_response(personal_data_of(self.services, actor["member_id"]), headers=EXPORT_HEADERS)

    @api("DELETE", "/api/members/me")
    @documented("Erase me: afterwards no service holds my personal data. The session is enough; "
                "a password given must be mine (403 otherwise)",
                body=schemas.EraseRequest, responses={204: None}, auth=True)
    def erase_me(self, request):
        actor, _ = require_actor(self.services, request)
        data = json_body(request, schemas.EraseRequest)
        self.services.call("members", "erase_member", actor["member_id"], data.get("password"))
        member_changed(self.services, actor["member_id"])  # every session of theirs is closed
        return 204, ""
