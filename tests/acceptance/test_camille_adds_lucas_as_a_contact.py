"""Camille adds Lucas as a contact: she asks on the API, he accepts on the site's "Mes contacts"
page, and each then sees the other's email on the member's profile; then he removes her."""
import re
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from umpnet_gateway import schemas

from ..conftest import link_in, read_mails, wait_until

pytestmark = pytest.mark.integration
PASSWORD = "Correct-horse-9"


def join(platform, email, first_name, postcode):
    """Sign up, verify from the email, log in and name oneself: (member id, auth header, token).
    Nothing to tick: a new member accepts contact requests (and not the party's mail)."""
    api = platform.url + "/api"
    assert requests.post(f"{api}/members", json={"email": email, "password": PASSWORD,
                                                 "postcode": postcode}).status_code == 202
    message = wait_until(lambda: next((m for m in read_mails(platform.mail_dir) if m["To"] == email), None))
    token = parse_qs(urlparse(link_in(message, "http://testserver/verify?")).query)["token"][0]
    assert requests.post(f"{api}/members/verify", json={"token": token}).status_code == 200
    session = requests.post(f"{api}/sessions", json={"email": email, "password": PASSWORD}).json()
    auth = {"Authorization": f"Bearer {session['token']}"}
    edited = requests.patch(f"{api}/members/me", headers=auth,
                            json={"first_name": first_name, "last_name": "Martin"})
    assert edited.status_code == 200, edited.text
    assert (edited.json()["accepts_contact_requests"], edited.json()["contact_consent"]) == (True, False)
    return session["member_id"], auth, session["token"]


def test_camille_adds_lucas_as_a_contact(platform):
    api = platform.url + "/api"
    camille, camille_auth, _ = join(platform, "camille@example.org", "Camille", "69003")
    lucas, lucas_auth, lucas_token = join(platform, "lucas@example.org", "Lucas", "75011")

    # Before: Lucas's profile does not show his email to Camille.
    before = requests.get(f"{api}/members/{lucas}", headers=camille_auth).json()
    assert before["display_name"] == "Lucas M." and "email" not in before

    asked = requests.post(f"{api}/contacts", json={"member_id": lucas}, headers=camille_auth)
    assert asked.status_code == 201, asked.text
    assert asked.json() == {"member_id": lucas, "display_name": "Lucas M.", "status": "outgoing"}
    assert requests.post(f"{api}/contacts", json={"member_id": lucas}, headers=camille_auth).status_code == 409

    incoming = requests.get(f"{api}/contacts", headers=lucas_auth).json()
    assert incoming["items"] == [{"member_id": camille, "display_name": "Camille M.", "status": "incoming"}]
    assert set(incoming["items"][0]) <= set(schemas.Contact._declared_fields)

    # Lucas accepts on the site, with the page's own form.
    browser = requests.Session()
    browser.cookies.set("umpnet_session", lucas_token)
    page = browser.get(platform.url + "/contacts")
    assert page.status_code == 200 and "Camille M." in page.text and "Demande reçue" in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    accepted = browser.post(platform.url + "/contacts", data={"csrf_token": csrf, "action": "accept", "member_id": camille})
    assert accepted.status_code == 200 and "Vous êtes désormais en contact." in accepted.text

    assert requests.get(f"{api}/contacts", headers=camille_auth).json()["items"][0]["status"] == "accepted"
    assert requests.get(f"{api}/members/{lucas}", headers=camille_auth).json()["email"] == "lucas@example.org"
    assert requests.get(f"{api}/members/{camille}", headers=lucas_auth).json()["email"] == "camille@example.org"

    # And later Lucas removes her: the emails are private again.
    assert requests.delete(f"{api}/contacts/{camille}", headers=lucas_auth).status_code == 204
    assert requests.get(f"{api}/contacts", headers=camille_auth).json()["items"] == []
    assert "email" not in requests.get(f"{api}/members/{lucas}", headers=camille_auth).json()
