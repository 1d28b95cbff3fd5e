"""The site's meetings pages (issue 10): Odile, an organizer, creates a meeting on the site's
form (a bad one refused field by field, a forged one refused), Camille finds it on the list and
its map, registers and unregisters with the page's buttons, and Odile records her attendance."""
import re
from datetime import datetime, timedelta

import pytest
import requests
from nameko.standalone.rpc import ClusterRpcProxy

from .test_camille_adds_lucas_as_a_contact import join

pytestmark = pytest.mark.integration


def csrf_of(html):
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_a_meeting_on_the_site(platform):
    site = platform.url
    _, _, odile_token = join(platform, "odile@example.org", "Odile", "75011")
    camille, camille_auth, camille_token = join(platform, "camille@example.org", "Camille", "75003")
    with ClusterRpcProxy(platform.config) as rpc:
        rpc.members.grant_role("odile@example.org", "organizer")

    assert requests.get(f"{site}/reunions/nouvelle", allow_redirects=False).status_code == 303
    odile = requests.Session()
    odile.cookies.set("umpnet_session", odile_token)
    form = odile.get(f"{site}/reunions/nouvelle")
    assert form.status_code == 200 and 'data-testid="meeting-form"' in form.text
    day = (datetime.now() + timedelta(days=5)).strftime("%Y-%m-%d")
    fields = {"title": "Réunion <publique>", "description": "Ordre du jour :\r\n\r\n- l'école", "starts_at": f"{day}T18:30",
              "ends_at": f"{day}T20:00", "address": "12 rue de la Roquette", "postcode": "75011", "capacity": "1",
              "theme": "education", "federation_code": "", "online_url": ""}
    refused = odile.post(f"{site}/reunions/nouvelle", data={**fields, "postcode": "00000", "capacity": "0",
                                                            "csrf_token": csrf_of(form.text)})
    assert refused.status_code == 400 and 'data-testid="meeting-postcode-error"' in refused.text
    assert 'data-testid="meeting-capacity-error"' in refused.text
    assert odile.post(f"{site}/reunions/nouvelle", data={**fields, "csrf_token": "x"}).status_code == 403
    created = odile.post(f"{site}/reunions/nouvelle", data={**fields, "csrf_token": csrf_of(form.text)},
                         allow_redirects=False)
    assert created.status_code == 303, created.text
    mid = created.headers["Location"].rsplit("/", 1)[-1]
    meeting = requests.get(f"{platform.url}/api/meetings/{mid}", headers=camille_auth).json()
    assert meeting["starts_at"][11:16] in ("17:30", "16:30")  # 18:30 in Paris (winter or summer time), in UTC

    # Camille finds it on the list and the map, near her postcode; the title is escaped.
    camille_site = requests.Session()
    camille_site.cookies.set("umpnet_session", camille_token)
    listed = camille_site.get(f"{site}/reunions", params={"postcode": "75003", "radius_km": "10"})
    assert listed.status_code == 200 and f'href="/reunions/{mid}"' in listed.text
    assert 'data-testid="meetings-map"' in listed.text and "Réunion &lt;publique&gt;" in listed.text
    assert "<publique>" not in listed.text.replace("&lt;publique&gt;", "")
    page = camille_site.get(f"{site}/reunions/{mid}")
    assert 'data-testid="meeting-register"' in page.text and "école</li>" in page.text  # the Markdown, rendered
    assert camille_site.post(f"{site}/reunions/{mid}", data={"action": "register", "csrf_token": "x"}).status_code == 403
    registered = camille_site.post(f"{site}/reunions/{mid}", data={"action": "register", "csrf_token": csrf_of(page.text)})
    assert registered.status_code == 200 and "votre place est confirmée" in registered.text
    assert 'data-testid="meeting-unregister"' in registered.text

    # Odile sees her on the registrants' page and records her attendance.
    registrants = odile.get(f"{site}/reunions/{mid}/inscrits")
    assert registrants.status_code == 200 and f'data-testid="registrant-{camille}"' in registrants.text
    assert "Camille M." in registrants.text  # her display name, from members
    assert camille_site.get(f"{site}/reunions/{mid}/inscrits").status_code == 403
    attended = odile.post(f"{site}/reunions/{mid}/inscrits", data={"member_id": camille,
                                                                 "csrf_token": csrf_of(registrants.text)})
    assert attended.status_code == 200 and "Présence enregistrée" in attended.text

    # Camille's calendar page gives her feed's secret address; she unregisters.
    calendar = camille_site.get(f"{site}/reunions/calendrier")
    assert calendar.status_code == 200 and "/calendar/" in calendar.text and camille not in calendar.text
    left = camille_site.post(f"{site}/reunions/{mid}", data={"action": "unregister",
                                                            "csrf_token": csrf_of(registered.text)})
    assert left.status_code == 200 and "Vous êtes désinscrit" in left.text
