"""Talents on the whole platform (issue 8 items 7, 8): Camille and Lucas become
contacts; the Rhône's federation admin sees them ranked, on the API and on the
"Talents" page, and names Lucas organizer with the roles form; the Paris federation
admin sees neither and may not; a national admin sees everyone."""
import re

import pytest
import requests
from nameko.standalone.rpc import ClusterRpcProxy

from .test_camille_adds_lucas_as_a_contact import join

pytestmark = pytest.mark.integration


def csrf_of(html):
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_admins_see_the_talents_of_their_federation_and_set_roles(platform):
    api = platform.url + "/api"
    camille, camille_auth, _ = join(platform, "camille@example.org", "Camille", "69003")
    lucas, lucas_auth, _ = join(platform, "lucas@example.org", "Lucas", "69001")
    _, admin69_auth, admin69_token = join(platform, "admin69@example.org", "Alix", "69002")
    _, admin75_auth, _ = join(platform, "admin75@example.org", "Paul", "75011")
    _, national_auth, _ = join(platform, "national@example.org", "Nora", "33000")
    with ClusterRpcProxy(platform.config) as rpc:
        for email, role in (("admin69@example.org", "federation_admin"), ("admin75@example.org", "federation_admin"),
                            ("national@example.org", "national_admin")):
            rpc.members.grant_role(email, role)

    assert requests.post(f"{api}/contacts", json={"member_id": lucas}, headers=camille_auth).status_code == 201
    assert requests.post(f"{api}/contacts/{camille}/accept", headers=lucas_auth).status_code == 200

    assert requests.get(f"{api}/talents").status_code == 401
    assert requests.get(f"{api}/talents", headers=camille_auth).status_code == 403
    rhone = requests.get(f"{api}/talents", headers=admin69_auth)
    assert rhone.status_code == 200, rhone.text
    assert sorted((i["display_name"], i["score"], i["breakdown"]) for i in rhone.json()["items"]) == [
        ("Camille M.", 3.0, {"contacts": 3.0}), ("Lucas M.", 3.0, {"contacts": 3.0})]
    assert requests.get(f"{api}/talents", params={"federation": "69"}, headers=admin75_auth).status_code == 403
    assert requests.get(f"{api}/talents", headers=admin75_auth).json()["items"] == []
    everyone = requests.get(f"{api}/talents", headers=national_auth).json()["items"]
    assert {i["member_id"] for i in everyone} == {camille, lucas}

    browser = requests.Session()
    browser.cookies.set("umpnet_session", admin69_token)
    page = browser.get(platform.url + "/admin/talents")
    assert page.status_code == 200 and "Camille M." in page.text and 'href="/admin/talents"' in page.text
    member_page = browser.get(f"{platform.url}/membres/{lucas}").text
    assert f'href="/membres/{lucas}/roles"' in member_page
    form = browser.get(f"{platform.url}/membres/{lucas}/roles").text
    saved = browser.post(f"{platform.url}/membres/{lucas}/roles", data={"csrf_token": csrf_of(form), "roles": ["organizer"]})
    assert saved.status_code == 200 and "Les rôles sont enregistrés." in saved.text
    assert requests.get(f"{api}/members/me", headers=lucas_auth).json()["roles"] == ["member", "organizer"]
