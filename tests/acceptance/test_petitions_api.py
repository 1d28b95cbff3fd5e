"""Petitions through the running gateway (issue 9): who may do what on every endpoint
(anonymous, member, the federation admin of another federation, a national admin),
signing without an account and confirming by the link, one-click signing for members,
the consenting signers' CSV, the counter and the widget, and a confirmation page
whose GET confirms nothing."""
import csv
import importlib.resources
import io
import json
import re
import sqlite3
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from nameko.standalone.rpc import ClusterRpcProxy

from umpnet_kernel.links import LinkTokens

from ..conftest import link_in, read_mails, wait_until
from .test_camille_adds_lucas_as_a_contact import join

pytestmark = pytest.mark.integration

PETITION = {"title": "Pour des pistes cyclables", "body": "Des pistes sûres\nentre les communes.",
            "theme": "environnement", "goal": 10}


def csrf_of(html):
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def link_token(platform, email_hint_petition_id):
    """The confirmation token of the latest signature requested on a petition, made as the mailer makes it:
    from the event's nonce and the secret key (the event store keeps the nonce, never a usable token)."""
    db = sqlite3.connect(f"{platform.config['DATA_DIR']}/petitions.db")
    try:
        rows = db.execute("SELECT data FROM events WHERE event_type = 'petitions.SignatureRequested' "
                          "ORDER BY position").fetchall()
    finally:
        db.close()
    nonces = [json.loads(data)["link_nonce"] for (data,) in rows
              if json.loads(data)["petition_id"] == email_hint_petition_id]
    return LinkTokens(platform.config["SECRET_KEY"]).token("petition-signature", nonces[-1])


def signer(email, first_name="Léa", postcode="69003", **more):
    return {"email": email, "first_name": first_name, "last_name": "Durand", "postcode": postcode, **more}


def count(api, petition_id, auth):
    # With a session: never a kept public answer, so the count is the service's now.
    return requests.get(f"{api}/petitions/{petition_id}", headers=auth).json()["signature_count"]


def test_petitions_from_launch_to_export(platform):
    api = platform.url + "/api"
    camille, camille_auth, camille_token = join(platform, "camille@example.org", "Camille", "69003")
    _, admin69_auth, _ = join(platform, "admin69@example.org", "Alix", "69002")
    _, admin75_auth, _ = join(platform, "admin75@example.org", "Paul", "75011")
    _, national_auth, _ = join(platform, "national@example.org", "Nora", "33000")
    with ClusterRpcProxy(platform.config) as rpc:
        for email, role in (("admin69@example.org", "federation_admin"), ("admin75@example.org", "federation_admin"),
                            ("national@example.org", "national_admin")):
            rpc.members.grant_role(email, role)

    # Launching: admins only; a federation admin's petition is local to their federation.
    assert requests.post(f"{api}/petitions", json=PETITION).status_code == 401
    assert requests.post(f"{api}/petitions", json=PETITION, headers=camille_auth).status_code == 403
    bad = requests.post(f"{api}/petitions", json={**PETITION, "goal": "dix"}, headers=national_auth)
    assert bad.status_code == 400 and "goal" in bad.json()["error"]["fields"]
    local = requests.post(f"{api}/petitions", json=PETITION, headers=admin75_auth)
    assert local.status_code == 201, local.text
    assert (local.json()["federation"], local.json()["scope"], local.json()["status"]) == ("75", "local", "open")
    national = requests.post(f"{api}/petitions", json=PETITION, headers=national_auth)
    assert national.status_code == 201, national.text
    pid = national.json()["id"]
    assert national.json()["scope"] == "national" and national.json()["signature_count"] == 0

    # A member proposes; only the author and admins see it until it is published.
    proposed = requests.post(f"{api}/petitions/proposals", json={**PETITION, "title": "Ma proposition"},
                             headers=camille_auth)
    assert proposed.status_code == 201 and proposed.json()["status"] == "proposed", proposed.text
    proposal = proposed.json()["id"]
    assert requests.post(f"{api}/petitions/proposals", json=PETITION).status_code == 401
    assert requests.get(f"{api}/petitions/{proposal}").status_code == 404
    assert requests.get(f"{api}/petitions/{proposal}", headers=admin75_auth).status_code == 404
    assert requests.get(f"{api}/petitions/{proposal}", headers=camille_auth).status_code == 200
    assert requests.get(f"{api}/petitions", params={"status": "proposed"}).status_code == 401
    assert requests.get(f"{api}/petitions", params={"status": "proposed"}, headers=camille_auth).status_code == 403
    waiting = requests.get(f"{api}/petitions", params={"status": "proposed"}, headers=national_auth).json()
    assert [item["id"] for item in waiting["items"]] == [proposal]
    assert requests.post(f"{api}/petitions/{proposal}/publish").status_code == 401
    assert requests.post(f"{api}/petitions/{proposal}/publish", headers=camille_auth).status_code == 403
    assert requests.post(f"{api}/petitions/{proposal}/publish", headers=admin75_auth).status_code == 404
    published = requests.post(f"{api}/petitions/{proposal}/publish", headers=national_auth)
    assert published.status_code == 200 and published.json()["status"] == "open", published.text

    listed = requests.get(f"{api}/petitions", params={"theme": "environnement", "scope": "national"}).json()
    assert {item["id"] for item in listed["items"]} == {pid, proposal}
    assert requests.get(f"{api}/petitions", params={"scope": "partout"}).status_code == 400
    assert requests.get(f"{api}/petitions", params={"limit": "0"}).status_code == 400

    # Signing without an account: 202, and nothing counts before the link is followed.
    assert requests.post(f"{api}/petitions/{pid}/signatures", json=signer("pas-une-adresse")).status_code == 400
    assert requests.post(f"{api}/petitions/{pid}/signatures",
                         json={"email": "lea@example.net"}).status_code == 400
    signed = requests.post(f"{api}/petitions/{pid}/signatures", json=signer("lea@example.net"))
    assert (signed.status_code, signed.json()) == (202, {"status": "pending_confirmation"}), signed.text
    token = link_token(platform, pid)
    assert count(api, pid, national_auth) == 0

    # The confirmation page: its GET (a mail scanner's) confirms nothing; its form does.
    browser = requests.Session()
    shown = browser.get(f"{platform.url}/petitions/confirm", params={"token": token})
    assert shown.status_code == 200 and 'method="post"' in shown.text and token in shown.text
    assert count(api, pid, national_auth) == 0
    confirmed = requests.post(f"{api}/signatures/confirm", json={"token": token})
    assert confirmed.status_code == 200 and confirmed.json() == {"status": "confirmed", "petition_id": pid}
    assert count(api, pid, national_auth) == 1
    assert requests.post(f"{api}/signatures/confirm", json={"token": token}).status_code == 400  # single use
    assert requests.post(f"{api}/signatures/confirm", json={"token": "abc.def"}).status_code == 400

    # A consenting signer whose name a spreadsheet would run as a formula, confirmed on the site's form.
    assert requests.post(f"{api}/petitions/{pid}/signatures",
                         json=signer("hugo@example.net", first_name="=SUM(1+1)", postcode="75011",
                                     contact_consent=True)).status_code == 202
    hugo_token = link_token(platform, pid)
    page = browser.get(f"{platform.url}/petitions/confirm", params={"token": hugo_token})
    done = browser.post(f"{platform.url}/petitions/confirm",
                        data={"csrf_token": csrf_of(page.text), "token": hugo_token})
    assert done.status_code == 200 and "Votre signature est confirmée" in done.text, done.text
    assert count(api, pid, national_auth) == 2

    breakdown = requests.get(f"{api}/petitions/{pid}/breakdown")
    assert breakdown.status_code == 200
    assert breakdown.json() == {"petition_id": pid, "by_federation": [{"code": "69", "count": 1},
                                                                      {"code": "75", "count": 1}]}

    # One click for a member (counted at once, once), credited to nobody else.
    clicked = wait_until(lambda: (lambda r: r if r.status_code != 409 else None)(
        requests.post(f"{api}/petitions/{pid}/signatures", headers=camille_auth)))
    assert (clicked.status_code, clicked.json()["status"]) == (201, "confirmed"), clicked.text
    again = requests.post(f"{api}/petitions/{pid}/signatures", json={}, headers=camille_auth)
    assert again.status_code == 200 and again.json()["status"] == "confirmed"
    assert count(api, pid, national_auth) == 3
    assert requests.post(f"{api}/petitions/{pid}/signatures", json={},
                         headers={"Authorization": "Bearer nope"}).status_code == 401
    mine = requests.get(f"{api}/members/me/petitions", headers=camille_auth)
    assert mine.status_code == 200 and [i["petition_id"] for i in mine.json()["items"]] == [pid]
    assert requests.get(f"{api}/members/me/petitions").status_code == 401

    # The share link: a member's own, to this petition.
    assert requests.get(f"{api}/petitions/{pid}/share").status_code == 401
    shared = requests.get(f"{api}/petitions/{pid}/share", headers=camille_auth)
    assert shared.status_code == 200
    url = shared.json()["url"]
    assert urlparse(url).path == f"/petitions/{pid}" and parse_qs(urlparse(url).query)["ref"]
    assert shared.json()["facebook_share_url"].startswith("https://www.facebook.com/sharer/sharer.php?u=")

    # The export: national admins only, and only the confirmed signers who consented.
    csv_url = f"{api}/petitions/{pid}/signatures.csv"
    assert requests.get(csv_url).status_code == 401
    assert requests.get(csv_url, headers=camille_auth).status_code == 403
    assert requests.get(csv_url, headers=admin75_auth).status_code == 403
    exported = requests.get(csv_url, headers=national_auth)
    assert exported.status_code == 200 and exported.headers["Content-Type"].startswith("text/csv")
    assert exported.headers["Content-Disposition"].startswith("attachment;")
    rows = list(csv.reader(io.StringIO(exported.text)))
    assert rows[0] == ["first_name", "last_name", "email", "postcode", "federation_code", "confirmed_at"]
    assert [row[:5] for row in rows[1:]] == [["'=SUM(1+1)", "Durand", "hugo@example.net", "75011", "75"]]

    # Bursts and invalidations: the petition's admins (a national one's: national admins).
    assert requests.get(f"{api}/petitions/{pid}/bursts").status_code == 401
    assert requests.get(f"{api}/petitions/{pid}/bursts", headers=camille_auth).status_code == 403
    assert requests.get(f"{api}/petitions/{pid}/bursts", headers=admin75_auth).status_code == 403
    assert requests.get(f"{api}/petitions/{pid}/bursts", headers=national_auth).json()["items"] == []
    strike = {"signature_id": "0" * 32, "reason": "doublon"}
    assert requests.post(f"{api}/petitions/{pid}/invalidations", json=strike).status_code == 401
    assert requests.post(f"{api}/petitions/{pid}/invalidations", json=strike, headers=camille_auth).status_code == 403
    assert requests.post(f"{api}/petitions/{pid}/invalidations", json=strike,
                         headers=national_auth).status_code == 404
    assert requests.post(f"{api}/petitions/{pid}/invalidations", json={"reason": "x"},
                         headers=national_auth).status_code == 400

    # The counter (CORS for any origin) and the widget (framed anywhere, this page only).
    counter = requests.get(f"{api}/petitions/{pid}/counter")
    assert counter.status_code == 200 and counter.headers["Access-Control-Allow-Origin"] == "*"
    assert counter.json() == {"id": pid, "title": PETITION["title"], "signature_count": 3, "goal": 10,
                              "progress": 0.3}
    widget = requests.get(f"{platform.url}/petitions/{pid}/widget")
    assert widget.status_code == 200 and PETITION["title"] in widget.text and "3" in widget.text
    assert "frame-ancestors *" in widget.headers["Content-Security-Policy"]
    assert widget.headers.get("X-Frame-Options") != "DENY"
    assert requests.get(f"{platform.url}/petitions/{pid}").headers["X-Frame-Options"] == "DENY"

    stats = requests.get(f"{api}/stats")
    assert stats.status_code == 200
    assert stats.json() == {"members": 4, "digital_federation_members": 4, "upcoming_meetings": 0,
                            "open_petitions": 3, "confirmed_signatures": 3}

    # Closing: the petition's admins; a closed petition takes no signature.
    local_id = local.json()["id"]
    assert requests.post(f"{api}/petitions/{local_id}/close", json={}).status_code == 401
    assert requests.post(f"{api}/petitions/{local_id}/close", json={}, headers=camille_auth).status_code == 403
    assert requests.post(f"{api}/petitions/{local_id}/close", json={}, headers=admin69_auth).status_code == 403
    closed = requests.post(f"{api}/petitions/{local_id}/close", json={"reason": "objectif atteint"},
                           headers=admin75_auth)
    assert closed.status_code == 200 and closed.json()["status"] == "closed", closed.text
    assert requests.post(f"{api}/petitions/{local_id}/signatures",
                         json=signer("zoe@example.net")).status_code == 409
    assert requests.get(f"{api}/petitions/00000000-0000-0000-0000-000000000000").status_code == 404


def _mailer_sends_petition_links() -> bool:
    try:
        return importlib.resources.files("mailer").joinpath("templates", "petition-confirmation.txt").is_file()
    except ModuleNotFoundError:
        return False


@pytest.mark.skipif(not _mailer_sends_petition_links(), reason="the mailer has no petition-confirmation email yet")
def test_the_emailed_link_confirms_a_signature(platform):
    api = platform.url + "/api"
    _, national_auth, _ = join(platform, "national@example.org", "Nora", "33000")
    with ClusterRpcProxy(platform.config) as rpc:
        rpc.members.grant_role("national@example.org", "national_admin")
    pid = requests.post(f"{api}/petitions", json=PETITION, headers=national_auth).json()["id"]
    assert requests.post(f"{api}/petitions/{pid}/signatures", json=signer("lea@example.net")).status_code == 202
    message = wait_until(lambda: next((m for m in read_mails(platform.mail_dir) if m["To"] == "lea@example.net"),
                                      None))
    link = link_in(message, "http://testserver/petitions/confirm?token=")
    token = parse_qs(urlparse(link).query)["token"][0]
    assert requests.get(f"{platform.url}/petitions/confirm", params={"token": token}).status_code == 200
    assert count(api, pid, national_auth) == 0
    assert requests.post(f"{api}/signatures/confirm", json={"token": token}).json()["status"] == "confirmed"
    assert count(api, pid, national_auth) == 1
