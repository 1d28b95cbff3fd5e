"""Alix, admin of the Rhône federation, drafts a campaign on the site's form, previews it and
sends it; a plain member cannot open the page, a form without its CSRF token changes nothing,
and Camille registers her blog on the /blogs page."""
import re

import pytest
import requests
from nameko.standalone.rpc import ClusterRpcProxy

from ..conftest import read_mails, wait_until
from .test_camille_adds_lucas_as_a_contact import join

pytestmark = pytest.mark.integration


def csrf_of(html):
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def browser_for(token):
    browser = requests.Session()
    browser.cookies.set("umpnet_session", token)
    return browser


def test_alix_drafts_previews_and_sends_a_campaign_on_the_site(platform):
    api = platform.url + "/api"
    _, camille_auth, camille_token = join(platform, "camille@example.org", "Camille", "69003")
    assert requests.patch(f"{api}/members/me", headers=camille_auth, json={"contact_consent": True}).status_code == 200
    _, _, alix_token = join(platform, "alix@example.org", "Alix", "69001")
    with ClusterRpcProxy(platform.config) as rpc:
        rpc.members.grant_role("alix@example.org", "federation_admin")

    member = browser_for(camille_token)
    assert member.get(platform.url + "/admin/campagnes").status_code == 403
    assert requests.get(platform.url + "/admin/campagnes", allow_redirects=False).status_code == 303

    alix = browser_for(alix_token)
    form = alix.get(platform.url + "/admin/campagnes")
    assert form.status_code == 200 and 'data-testid="campaign-form"' in form.text
    fields = {"subject": "Fête de la fédération", "body_markdown": "Venez **nombreux** <script>alert(1)</script>",
              "federations": "", "postcode": "", "radius_km": "", "top_blogs": ""}
    forged = alix.post(platform.url + "/admin/campagnes", data={**fields, "csrf_token": "forged"})
    assert forged.status_code == 403 and "Formulaire expiré" in forged.text
    refused = alix.post(platform.url + "/admin/campagnes",
                        data={**fields, "federations": "75", "csrf_token": csrf_of(form.text)})
    assert refused.status_code == 403 and "votre fédération" in refused.text

    def drafted():
        page = alix.get(platform.url + "/admin/campagnes")
        created = alix.post(platform.url + "/admin/campagnes", data={**fields, "csrf_token": csrf_of(page.text)})
        assert created.status_code == 200, created.text
        return created if "1 destinataire" in created.text else None

    preview = wait_until(drafted, timeout=20)  # the mailer learns Camille's consent from an event
    assert "<strong>nombreux</strong>" in preview.text and "<script>alert(1)</script>" not in preview.text
    assert "Brouillon" in preview.text
    sent = alix.post(preview.url, data={"csrf_token": csrf_of(preview.text)})
    assert sent.status_code == 200 and 'data-testid="campaign-send-form"' not in sent.text
    wait_until(lambda: "Envoyée" in alix.get(preview.url).text, timeout=30)
    assert [m["To"] for m in read_mails(platform.mail_dir) if m["Subject"] == "Fête de la fédération"] \
        == ["camille@example.org"]
    assert member.get(preview.url).status_code == 404  # another member does not learn it exists


def test_camille_registers_her_blog_on_the_blogs_page(platform):
    _, _, camille_token = join(platform, "camille@example.org", "Camille", "69003")
    assert "Aucun blog" in requests.get(platform.url + "/blogs").text
    camille = browser_for(camille_token)
    page = camille.get(platform.url + "/blogs")
    bad = camille.post(platform.url + "/blogs", data={"url": "pas une adresse", "feed_url": "https://x.example.org/f",
                                                      "csrf_token": csrf_of(page.text)})
    assert bad.status_code == 400 and 'data-testid="blog-url-error"' in bad.text
    registered = camille.post(platform.url + "/blogs", data={
        "url": "https://camille.example.org", "feed_url": "https://camille.example.org/feed",
        "csrf_token": csrf_of(page.text)})
    assert registered.status_code == 200 and 'data-testid="blog-registered"' in registered.text
    listed = requests.get(platform.url + "/blogs").text
    assert "https://camille.example.org/" in listed and "Camille M." in listed
