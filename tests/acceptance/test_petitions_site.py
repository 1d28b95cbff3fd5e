"""The site's petitions pages (issue 9): a national admin launches a petition on the site's
form, a visitor finds it by theme and signs with the form (the consent box unticked), a
member signs in one click, and a form without its CSRF token changes nothing."""
import html
import json
import re

import pytest
import requests
from nameko.standalone.rpc import ClusterRpcProxy

from ..conftest import wait_until
from .test_camille_adds_lucas_as_a_contact import join
from .test_petitions_api import link_token

pytestmark = pytest.mark.integration


def csrf_of(html):
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def test_a_petition_on_the_site(platform):
    api = platform.url + "/api"
    _, national_auth, national_token = join(platform, "national@example.org", "Nora", "33000")
    _, camille_auth, camille_token = join(platform, "camille@example.org", "Camille", "69003")
    with ClusterRpcProxy(platform.config) as rpc:
        rpc.members.grant_role("national@example.org", "national_admin")

    assert requests.get(f"{platform.url}/petitions/nouvelle", allow_redirects=False).status_code == 303
    admin = requests.Session()
    admin.cookies.set("umpnet_session", national_token)
    form = admin.get(f"{platform.url}/petitions/nouvelle")
    assert form.status_code == 200 and "Lancer la pétition" in form.text
    fields = {"title": "Sauvons la gare <de Lyon>", "body": "Premier paragraphe.\r\nSecond.",
              "theme": "environnement", "goal": "2", "ends_at": "", "federation_code": ""}
    refused = admin.post(f"{platform.url}/petitions/nouvelle", data={**fields, "goal": "0", "csrf_token": csrf_of(form.text)})
    assert refused.status_code == 400 and 'data-testid="petition-goal-error"' in refused.text
    forged = admin.post(f"{platform.url}/petitions/nouvelle", data={**fields, "csrf_token": "x"})
    assert forged.status_code == 403
    launched = admin.post(f"{platform.url}/petitions/nouvelle", data={**fields, "csrf_token": csrf_of(form.text)},
                          allow_redirects=False)
    assert launched.status_code == 303, launched.text
    pid = launched.headers["Location"].rsplit("/", 1)[-1]
    listed = requests.get(f"{api}/petitions", headers=national_auth).json()["items"]
    assert [p["id"] for p in listed] == [pid]

    # A visitor finds it by its theme; the title is escaped.
    visitor = requests.Session()
    by_theme = visitor.get(f"{platform.url}/petitions", params={"theme": "environnement"})
    assert by_theme.status_code == 200 and f'href="/petitions/{pid}"' in by_theme.text
    assert "Sauvons la gare &lt;de Lyon&gt;" in by_theme.text and "<de Lyon>" not in by_theme.text
    assert f'href="/petitions/{pid}"' not in visitor.get(f"{platform.url}/petitions", params={"theme": "sante"}).text

    page = visitor.get(f"{platform.url}/petitions/{pid}")
    assert page.status_code == 200 and 'data-testid="petition-sign-form"' in page.text
    consent = re.search(r'<input type="checkbox" name="contact_consent"[^>]*>', page.text).group(0)
    assert "checked" not in consent
    signer = {"first_name": "Léa", "last_name": "Durand", "email": "lea@example.net", "postcode": "69003",
              "action": "sign"}
    assert visitor.post(f"{platform.url}/petitions/{pid}", data=signer).status_code == 403  # no CSRF token
    signed = visitor.post(f"{platform.url}/petitions/{pid}", data={**signer, "csrf_token": csrf_of(page.text)})
    assert signed.status_code == 200 and 'data-testid="petition-done"' in signed.text
    bad = visitor.post(f"{platform.url}/petitions/{pid}",
                       data={**signer, "postcode": "00000", "csrf_token": csrf_of(page.text)})
    assert bad.status_code == 400 and 'data-testid="sign-postcode-error"' in bad.text
    token = link_token(platform, pid)
    assert requests.post(f"{api}/signatures/confirm", json={"token": token}).status_code == 200

    # A member signs in one click.
    member = requests.Session()
    member.cookies.set("umpnet_session", camille_token)
    shown = member.get(f"{platform.url}/petitions/{pid}")
    assert 'data-testid="petition-sign-member"' in shown.text and 'data-testid="petition-sign-form"' not in shown.text
    assert 'href="/petitions"' in shown.text  # the nav link
    click = {"action": "member", "csrf_token": csrf_of(shown.text)}
    # 409 until the members service's sign-up event reached petitions.
    clicked = wait_until(lambda: (lambda r: r if r.status_code != 409 else None)(
        member.post(f"{platform.url}/petitions/{pid}", data=click)))
    assert clicked.status_code == 200 and "Votre signature est comptée" in clicked.text, clicked.text
    assert requests.get(f"{api}/petitions/{pid}", headers=camille_auth).json()["signature_count"] == 2
    assert 'data-testid="petition-admin-form"' not in clicked.text  # a member administers nothing
    assert "69 – Rhône" in clicked.text  # the breakdown by département, and its map
    points = json.loads(html.unescape(re.search(r"data-points='([^']*)'", clicked.text).group(1)))
    assert [(p["code"], p["count"]) for p in points] == [("69", 2)] and 45 < points[0]["lat"] < 46.5

    # A member may not close it (the service says so); its admin closes it from its page.
    mine = member.get(f"{platform.url}/petitions/{pid}")
    refused = member.post(f"{platform.url}/petitions/{pid}", data={"action": "close", "csrf_token": csrf_of(mine.text)})
    assert refused.status_code == 403 and 'data-testid="petition-sign-member"' in refused.text
    shown = admin.get(f"{platform.url}/petitions/{pid}")
    assert 'data-testid="petition-close"' in shown.text
    closed = admin.post(f"{platform.url}/petitions/{pid}", data={"action": "close", "csrf_token": csrf_of(shown.text)})
    assert closed.status_code == 200 and "La pétition est close." in closed.text
    assert 'data-testid="petition-sign-form"' not in visitor.get(f"{platform.url}/petitions/{pid}").text

    # A member proposes one on the same form; it waits for review, seen by its author only.
    new = member.get(f"{platform.url}/petitions/nouvelle")
    assert "Envoyer ma proposition" in new.text and 'name="draft"' not in new.text
    proposed = member.post(f"{platform.url}/petitions/nouvelle", allow_redirects=False,
                           data={**fields, "title": "Ma proposition", "csrf_token": csrf_of(new.text)})
    assert proposed.status_code == 303, proposed.text
    proposal = proposed.headers["Location"]
    assert "Proposition en attente" in member.get(f"{platform.url}{proposal}").text
    assert visitor.get(f"{platform.url}{proposal}").status_code == 404
    shown = admin.get(f"{platform.url}{proposal}")
    published = admin.post(f"{platform.url}{proposal}", data={"action": "publish", "csrf_token": csrf_of(shown.text)})
    assert published.status_code == 200 and "La pétition est publiée" in published.text
    assert visitor.get(f"{platform.url}{proposal}").status_code == 200
