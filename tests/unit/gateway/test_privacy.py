"""The export and erasure endpoints and the "Mes données" page, at the HTTP edge
(the services stubbed: conftest.py). The whole path is tests/acceptance/test_camille_erases_her_account.py."""
import re

import requests

from umpnet_kernel.manifest import services_holding_personal_data


def test_the_export_asks_every_service_that_holds_personal_data_and_is_an_attachment(gateway):
    assert requests.get(gateway.url + "/api/members/me/export").status_code == 401
    _, auth = gateway.log_in()
    answer = requests.get(gateway.url + "/api/members/me/export", headers=auth)
    assert answer.status_code == 200
    assert answer.headers["Content-Disposition"] == 'attachment; filename="mes-donnees-umpnet.json"'
    assert answer.headers["Cache-Control"] == "no-store"
    body = answer.json()
    assert set(services_holding_personal_data()) == {"members", "mailer", "petitions", "events", "debates"} <= set(body)
    assert body["members"] == {"member_id": "m1"} and body["member_id"] == "m1"
    asked = [c for c in gateway.calls if c.method == "export_personal_data"]
    assert len(asked) == len(services_holding_personal_data()) and all(c.args == ("m1",) for c in asked)


def test_erasure_needs_a_session_and_a_password_given_must_be_right(gateway):
    url = gateway.url + "/api/members/me"
    assert requests.delete(url, json={"password": "Correct-horse-9"}).status_code == 401
    token, auth = gateway.log_in()
    malformed = requests.delete(url, headers=auth, json={"password": ""})
    assert malformed.status_code == 400 and "password" in malformed.json()["error"]["fields"]
    assert requests.delete(url, headers=auth, json={"password": 42}).status_code == 400
    wrong = requests.delete(url, headers=auth, json={"password": "Wrong-password-1"})
    assert wrong.status_code == 403 and wrong.json()["error"]["message"]
    assert requests.get(url, headers=auth).status_code == 200  # still there
    done = requests.delete(url, headers=auth, json={"password": "Correct-horse-9"})
    assert done.status_code == 204 and done.content == b""
    assert requests.get(url, headers=auth).status_code == 401  # the session went with the member
    erased = [c for c in gateway.calls if c.method == "erase_member"]
    assert [c.args for c in erased] == [("m1", "Wrong-password-1"), ("m1", "Correct-horse-9")]


def test_the_session_alone_erases_as_api_md_asks(gateway):
    """API.md: `DELETE /api/members/me`, member → erase me; no body is needed."""
    url = gateway.url + "/api/members/me"
    token, auth = gateway.log_in()
    done = requests.delete(url, headers=auth)
    assert done.status_code == 204 and done.content == b""
    assert requests.get(url, headers=auth).status_code == 401
    assert [c.args for c in gateway.calls if c.method == "erase_member"] == [("m1", None)]


def test_the_my_data_page_needs_a_login_csrf_a_tick_and_the_password(gateway):
    assert requests.get(gateway.url + "/profil/donnees", allow_redirects=False).status_code == 303
    token, _ = gateway.log_in()
    browser = requests.Session()
    browser.cookies.set("umpnet_session", token)
    page = browser.get(gateway.url + "/profil/donnees")
    assert page.status_code == 200 and "Mes données" in page.text and 'href="/profil/donnees/export"' in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    form = {"csrf_token": csrf, "password": "Correct-horse-9", "confirm": "on"}
    assert browser.post(gateway.url + "/profil/donnees", data={**form, "csrf_token": "forged"}).status_code == 403
    assert browser.post(gateway.url + "/profil/donnees", data={**form, "confirm": ""}).status_code == 400
    wrong = browser.post(gateway.url + "/profil/donnees", data={**form, "password": "Wrong-password-1"})
    assert wrong.status_code == 403 and "Mot de passe incorrect" in wrong.text
    assert not [c for c in gateway.calls if c.method == "erase_member" and c.args[1] == "Correct-horse-9"]
    download = browser.get(gateway.url + "/profil/donnees/export")
    assert download.status_code == 200 and "attachment" in download.headers["Content-Disposition"]
    done = browser.post(gateway.url + "/profil/donnees", data=form)
    assert done.status_code == 200 and "Votre compte est supprimé" in done.text
    assert "umpnet_session=;" in done.headers.get("Set-Cookie", "") or 'umpnet_session=""' in done.headers.get("Set-Cookie", "")
