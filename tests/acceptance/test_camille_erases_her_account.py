"""Camille downloads her data, then erases her account: on the API (each refusal
first), then Lucas on the site's "Mes données" page. Afterwards her token no
longer works, her profile is 404, she is gone from Lucas's contacts, the mailer
has dropped her emails, no database file under $DATA_DIR holds her address or
her name, and the address can sign up again."""
import glob
import os
import re

import pytest
import requests

from ..conftest import read_mails, wait_until
from .test_camille_adds_lucas_as_a_contact import PASSWORD, join

pytestmark = pytest.mark.integration


def db_files_holding(data_dir, *needles):
    found = []
    for path in glob.glob(os.path.join(data_dir, "*.db*")):
        raw = open(path, "rb").read()
        found += [(os.path.basename(path), n) for n in needles if n.encode() in raw]
    return found


def test_camille_exports_then_erases_her_account(platform):
    api = platform.url + "/api"
    data_dir = platform.config["DATA_DIR"]
    camille, camille_auth, _ = join(platform, "camille.erasure@example.org", "Camille", "69003")
    lucas, lucas_auth, lucas_token = join(platform, "lucas@example.org", "Lucas", "75011")
    assert requests.post(f"{api}/contacts", json={"member_id": lucas}, headers=camille_auth).status_code == 201
    assert requests.post(f"{api}/contacts/{camille}/accept", headers=lucas_auth).status_code == 200

    # The export: hers only, from every service, as an attachment.
    assert requests.get(f"{api}/members/me/export").status_code == 401
    export = requests.get(f"{api}/members/me/export", headers=camille_auth)
    assert export.status_code == 200 and export.headers["Content-Disposition"].startswith("attachment")
    data = export.json()
    assert data["member_id"] == camille
    assert data["members"]["profile"]["email"] == "camille.erasure@example.org"
    assert data["members"]["contacts"][0]["member_id"] == lucas
    assert data["members"]["talent"] == {"score": 3.0, "breakdown": {"contacts": 3.0}}  # the contact made
    assert data["members"]["invitations"] == [] and data["members"]["external_identities"] == []
    assert data["members"]["invitation_link"] is None
    assert [e["kind"] for e in data["mailer"]["emails"]] == ["verification"]
    assert "lucas@example.org" not in export.text  # an accepted contact's address is Lucas's data, not hers
    assert db_files_holding(data_dir, "camille.erasure@example.org") != []

    # Refusals change nothing: no session, an empty password, a wrong one, Lucas with her password.
    assert requests.delete(f"{api}/members/me", json={"password": PASSWORD}).status_code == 401
    assert requests.delete(f"{api}/members/me", headers=camille_auth, json={"password": ""}).status_code == 400
    wrong = requests.delete(f"{api}/members/me", headers=camille_auth, json={"password": "Wrong-password-1"})
    assert wrong.status_code == 403 and wrong.json()["error"]["code"]
    assert requests.get(f"{api}/members/me", headers=camille_auth).status_code == 200

    erased = requests.delete(f"{api}/members/me", headers=camille_auth, json={"password": PASSWORD})
    assert erased.status_code == 204, erased.text
    assert requests.get(f"{api}/members/me", headers=camille_auth).status_code == 401
    assert requests.get(f"{api}/members/{camille}", headers=lucas_auth).status_code == 404
    assert requests.get(f"{api}/contacts", headers=lucas_auth).json()["items"] == []
    # The mailer drops her emails (and the sink's copies) once it has the event.
    wait_until(lambda: not any(m["To"] == "camille.erasure@example.org" for m in read_mails(platform.mail_dir)))
    wait_until(lambda: db_files_holding(data_dir, "camille.erasure@example.org", "Camille", "Durand") == [])

    # The address signs up again, as a new member.
    assert requests.post(f"{api}/members", json={"email": "camille.erasure@example.org", "password": PASSWORD,
                                                 "postcode": "69003"}).status_code == 202
    wait_until(lambda: any(m["To"] == "camille.erasure@example.org" for m in read_mails(platform.mail_dir)))

    # Lucas, on the site: the page, a forged form, a wrong password, then the real thing.
    browser = requests.Session()
    browser.cookies.set("umpnet_session", lucas_token)
    page = browser.get(platform.url + "/profil/donnees")
    assert page.status_code == 200 and "Supprimer mon compte" in page.text
    download = browser.get(platform.url + "/profil/donnees/export")
    assert download.status_code == 200 and download.json()["members"]["profile"]["email"] == "lucas@example.org"
    assert "attachment" in download.headers["Content-Disposition"]
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    forged = browser.post(platform.url + "/profil/donnees", data={"password": PASSWORD, "confirm": "on"})
    assert forged.status_code == 403
    refused = browser.post(platform.url + "/profil/donnees",
                           data={"csrf_token": csrf, "password": "Wrong-password-1", "confirm": "on"})
    assert refused.status_code == 403 and "Mot de passe incorrect" in refused.text
    unconfirmed = browser.post(platform.url + "/profil/donnees", data={"csrf_token": csrf, "password": PASSWORD})
    assert unconfirmed.status_code == 400
    assert requests.get(f"{api}/members/me", headers=lucas_auth).status_code == 200
    done = browser.post(platform.url + "/profil/donnees", data={"csrf_token": csrf, "password": PASSWORD, "confirm": "on"})
    assert done.status_code == 200 and "Votre compte est supprimé" in done.text
    assert requests.get(f"{api}/members/me", headers=lucas_auth).status_code == 401
