"""Camille invites Lucas: she invites him on the API, he gets the email, signs up on the site
through its link, verifies his address, and her list shows him as accepted; her personal
link, shared on the "Inviter" page, credits Sacha in the same way."""
import re
from html import unescape
from urllib.parse import parse_qs, urlparse

import pytest
import requests

from ..conftest import link_in, read_mails, wait_until
from .test_camille_adds_lucas_as_a_contact import PASSWORD, join

pytestmark = pytest.mark.integration


def mail_to(platform, email, subject_part):
    return wait_until(lambda: next((m for m in read_mails(platform.mail_dir)
                                    if m["To"] == email and subject_part in m["Subject"]), None))


def sign_up_on_the_site(platform, link, email, first_name):
    """Open the link's sign-up page, fill it in, verify from the email, name oneself: the member id."""
    target = urlparse(link)
    browser = requests.Session()
    page = browser.get(f"{platform.url}{target.path}?{target.query}")
    assert page.status_code == 200 and 'name="invitation_token"' in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    token = re.search(r'name="invitation_token" value="([^"]+)"', page.text).group(1)
    assert token == parse_qs(target.query)["invitation"][0]
    done = browser.post(platform.url + "/inscription", data={
        "csrf_token": csrf, "email": email, "password": PASSWORD, "postcode": "75011", "invitation_token": token})
    assert done.status_code == 200, done.text
    verification = mail_to(platform, email, "Confirmez")
    verify_token = parse_qs(urlparse(link_in(verification, "http://testserver/verify?")).query)["token"][0]
    assert requests.post(f"{platform.url}/api/members/verify", json={"token": verify_token}).status_code == 200
    session = requests.post(f"{platform.url}/api/sessions", json={"email": email, "password": PASSWORD}).json()
    requests.patch(f"{platform.url}/api/members/me", headers={"Authorization": f"Bearer {session['token']}"},
                   json={"first_name": first_name, "last_name": "Martin"})
    return session["member_id"]


def test_camille_invites_lucas(platform):
    api = platform.url + "/api"
    camille, camille_auth, camille_token = join(platform, "camille@example.org", "Camille", "69003")

    sent = requests.post(f"{api}/invitations", json={"email": "lucas@example.org"}, headers=camille_auth)
    assert sent.status_code == 201, sent.text
    assert parse_qs(urlparse(sent.json()["url"]).query)["invitation"] == [sent.json()["token"]]
    listed = requests.get(f"{api}/invitations", headers=camille_auth).json()["items"]
    assert [(i["email"], i["status"]) for i in listed] == [("lucas@example.org", "sent")]

    invitation = mail_to(platform, "lucas@example.org", "vous invite")
    assert invitation["Subject"] == "Camille M. vous invite à rejoindre la fédération numérique"
    link = link_in(invitation, "http://testserver/inscription?invitation=")
    assert parse_qs(urlparse(link).query)["invitation"] == [sent.json()["token"]]

    lucas = sign_up_on_the_site(platform, link, "lucas@example.org", "Lucas")
    accepted = wait_until(lambda: [i for i in requests.get(f"{api}/invitations", headers=camille_auth).json()["items"]
                                   if i["status"] == "accepted"])
    assert [(i["email"], i["display_name"], i["via"]) for i in accepted] == [("lucas@example.org", "Lucas M.", "email")]

    # Her personal link, from the "Inviter" page, with its Facebook share link.
    browser = requests.Session()
    browser.cookies.set("umpnet_session", camille_token)
    page = unescape(browser.get(platform.url + "/inviter").text)
    personal = requests.get(f"{api}/invitations/link", headers=camille_auth).json()
    assert personal["url"] in page and "https://www.facebook.com/sharer/sharer.php?u=" in page
    sacha = sign_up_on_the_site(platform, personal["url"], "sacha@example.org", "Sacha")
    items = requests.get(f"{api}/invitations", headers=camille_auth).json()["items"]
    assert sorted((i["via"], i["display_name"], i["status"]) for i in items) == [
        ("email", "Lucas M.", "accepted"), ("link", "Sacha M.", "accepted")]
    assert {lucas, sacha}.isdisjoint({camille})
