"""Nora, national admin, and Alix, admin of the Rhône federation, write to members through
the running gateway (real RabbitMQ): who may create, read and send a campaign (anonymous,
member, the admin of another federation, each role), the count at creation, the emails
with their RFC 8058 headers, the status, and a member who unsubscribes in one click and
is not written to again. Then Camille registers her blog, its feed served by a local HTTP
server is scored by the mailer's job, and it is listed with her name."""
import http.server
import threading
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from nameko.standalone.rpc import ClusterRpcProxy

from ..conftest import read_mails, wait_until
from .test_camille_adds_lucas_as_a_contact import join

pytestmark = pytest.mark.integration


@pytest.fixture
def platform_config(platform_config):
    # feeds from 127.0.0.1 (refused in production: SSRF), looked for twice a second
    return {**platform_config, "BLOG_FEEDS_ALLOW_PRIVATE": "1", "BLOG_FEEDS_INTERVAL": "0.5"}


def consent(api, auth):
    assert requests.patch(f"{api}/members/me", headers=auth, json={"contact_consent": True}).status_code == 200


def campaign(subject="Rentrée militante", **segment):
    return {"subject": subject, "body_markdown": "Bonjour à **toutes et tous** <b>!</b>", "segment": segment}


def campaign_mails(platform, subject):
    return [m for m in read_mails(platform.mail_dir) if m["Subject"] == subject]


def test_nora_and_alix_send_campaigns_to_their_members(platform):
    api = platform.url + "/api"
    camille, camille_auth, _ = join(platform, "camille@example.org", "Camille", "69003")
    lucas, lucas_auth, _ = join(platform, "lucas@example.org", "Lucas", "69002")
    _, paul_auth, _ = join(platform, "paul@example.org", "Paul", "75011")
    _, alix_auth, _ = join(platform, "alix@example.org", "Alix", "69001")
    _, admin75_auth, _ = join(platform, "admin75@example.org", "Inès", "75012")
    _, nora_auth, _ = join(platform, "nora@example.org", "Nora", "33000")
    for auth in (camille_auth, lucas_auth, paul_auth):
        consent(api, auth)
    with ClusterRpcProxy(platform.config) as rpc:
        for email, role in (("alix@example.org", "federation_admin"), ("admin75@example.org", "federation_admin"),
                            ("nora@example.org", "national_admin"), ("lucas@example.org", "organizer")):
            rpc.members.grant_role(email, role)

    # Who may create: admins only; a federation admin inside their federation.
    assert requests.post(f"{api}/campaigns", json=campaign()).status_code == 401
    assert requests.post(f"{api}/campaigns", json=campaign(), headers=camille_auth).status_code == 403
    with ClusterRpcProxy(platform.config) as rpc:  # a role granted is one more (organizer: still not an admin)
        rpc.members.grant_role("camille@example.org", "organizer")
    assert requests.post(f"{api}/campaigns", json=campaign(), headers=camille_auth).status_code == 403
    outside = requests.post(f"{api}/campaigns", json=campaign(federations=["75"]), headers=alix_auth)
    assert outside.status_code == 403 and outside.json()["error"]["code"] == "forbidden"
    bad = requests.post(f"{api}/campaigns", json={**campaign(themes=["astrologie"]), "subject": ""}, headers=nora_auth)
    assert bad.status_code == 400 and "subject" in bad.json()["error"]["fields"]
    assert bad.json()["error"]["fields"]["subject"] == ["Entre 1 et 200 caractères."]
    for segment, field in (({"themes": ["astrologie"]}, "segment.themes"), ({"federations": ["999"]}, "segment.federations"),
                           ({"near": {"postcode": "75011", "radius_km": 500}}, "segment"),
                           ({"roles": ["roi"]}, "segment.roles"), ({"top_blogs": "beaucoup"}, "segment")):
        refused = requests.post(f"{api}/campaigns", json=campaign(**segment), headers=nora_auth)
        assert refused.status_code == 400, (segment, refused.text)
        assert any(name.startswith(field) for name in refused.json()["error"]["fields"]), refused.json()

    # Alix's campaign: the Rhône's consenting members (Camille, Lucas), counted at creation.
    def created_by_alix():
        answer = requests.post(f"{api}/campaigns", json=campaign("Réunion du Rhône"), headers=alix_auth)
        assert answer.status_code == 201, answer.text
        return answer.json() if answer.json()["recipient_count"] == 2 else None

    alix_campaign = wait_until(created_by_alix, timeout=20)  # the mailer learns profiles from events
    cid = alix_campaign["id"]
    organizers = requests.post(f"{api}/campaigns", json=campaign("Aux organisateurs", roles=["organizer"]),
                               headers=nora_auth)
    assert organizers.status_code == 201 and organizers.json()["recipient_count"] == 2  # Lucas and Camille

    # Reading and sending: its author only; the others do not learn it exists.
    assert requests.get(f"{api}/campaigns/{cid}").status_code == 401
    for other in (camille_auth, admin75_auth, nora_auth):
        assert requests.get(f"{api}/campaigns/{cid}", headers=other).status_code == 404
    for other in (admin75_auth, nora_auth):
        assert requests.post(f"{api}/campaigns/{cid}/send", headers=other).status_code == 404
    assert requests.post(f"{api}/campaigns/{cid}/send", headers=camille_auth).status_code == 403  # no admin
    assert requests.get(f"{api}/campaigns/unknown-id", headers=alix_auth).status_code == 404
    draft = requests.get(f"{api}/campaigns/{cid}", headers=alix_auth).json()
    assert (draft["status"], draft["total"], draft["sent"], draft["failed"]) == ("draft", 2, 0, 0)
    sent = requests.post(f"{api}/campaigns/{cid}/send", headers=alix_auth)
    assert sent.status_code == 202, sent.text
    assert requests.post(f"{api}/campaigns/{cid}/send", headers=alix_auth).status_code == 409

    done = wait_until(lambda: (lambda s: s if s["status"] == "sent" else None)(
        requests.get(f"{api}/campaigns/{cid}", headers=alix_auth).json()), timeout=30)
    assert (done["total"], done["sent"], done["failed"]) == (2, 2, 0)
    mails = campaign_mails(platform, "Réunion du Rhône")
    assert sorted(m["To"] for m in mails) == ["camille@example.org", "lucas@example.org"]
    to_lucas = next(m for m in mails if m["To"] == "lucas@example.org")
    html = to_lucas.get_body(("html",)).get_content()
    assert "<strong>toutes et tous</strong>" in html and "<b>" not in html and "&lt;b&gt;" in html
    assert to_lucas["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    link = str(to_lucas["List-Unsubscribe"]).strip()[1:-1]
    assert link.startswith("http://testserver/unsubscribe?token=")
    assert link in to_lucas.get_body(("plain",)).get_content()

    # Lucas's mail client sends the one-click POST: no later campaign reaches him.
    one_click = requests.post(platform.url + "/unsubscribe?" + urlsplit(link).query,
                              data={"List-Unsubscribe": "One-Click"})
    assert one_click.status_code == 200 and "campagnes" in one_click.text
    later = requests.post(f"{api}/campaigns", json=campaign("Deuxième lettre"), headers=alix_auth).json()
    assert later["recipient_count"] == 1
    assert requests.post(f"{api}/campaigns/{later['id']}/send", headers=alix_auth).status_code == 202
    wait_until(lambda: requests.get(f"{api}/campaigns/{later['id']}", headers=alix_auth).json()["status"] == "sent",
               timeout=30)
    assert [m["To"] for m in campaign_mails(platform, "Deuxième lettre")] == ["camille@example.org"]
    mine = requests.get(f"{api}/campaigns", headers=alix_auth).json()
    assert [c["id"] for c in mine["items"]] == [later["id"], cid]


NOW = datetime.now(timezone.utc)


def rss(*ages_in_days) -> bytes:
    items = "".join(f"<item><title>n{n}</title><pubDate>{format_datetime(NOW - timedelta(days=age))}</pubDate></item>"
                    for n, age in enumerate(ages_in_days))
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>b</title>{items}</channel></rss>'.encode()


@pytest.fixture
def feeds():
    """A local HTTP server serving feeds: path -> body."""
    bodies = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = bodies.get(self.path)
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", "application/rss+xml")
            self.send_header("Content-Length", str(len(body or b"")))
            self.end_headers()
            self.wfile.write(body or b"")

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    httpd.bodies, httpd.base = bodies, f"http://127.0.0.1:{httpd.server_address[1]}"
    yield httpd
    httpd.shutdown()


def test_camille_registers_her_blog_and_it_is_ranked_by_its_feed(platform, feeds):
    api = platform.url + "/api"
    camille, camille_auth, _ = join(platform, "camille@example.org", "Camille", "69003")
    lucas, lucas_auth, _ = join(platform, "lucas@example.org", "Lucas", "69002")
    feeds.bodies["/camille.xml"] = rss(0, 2, 9)
    feeds.bodies["/lucas.xml"] = rss(40)

    blog = {"url": "https://camille.example.org", "feed_url": feeds.base + "/camille.xml"}
    assert requests.post(f"{api}/blogs", json=blog).status_code == 401
    for bad in ({"url": "camille.example.org", "feed_url": blog["feed_url"]}, {"url": blog["url"]},
                {"url": blog["url"], "feed_url": "javascript:alert(1)"}):
        refused = requests.post(f"{api}/blogs", json=bad, headers=camille_auth)
        assert refused.status_code == 400 and refused.json()["error"]["fields"], refused.text
    registered = requests.post(f"{api}/blogs", json=blog, headers=camille_auth)
    assert registered.status_code == 201, registered.text
    again = requests.post(f"{api}/blogs", json={**blog, "url": "https://CAMILLE.example.org/"}, headers=lucas_auth)
    assert again.status_code == 409
    assert requests.post(f"{api}/blogs", json={"url": "https://lucas.example.org",
                                               "feed_url": feeds.base + "/lucas.xml"}, headers=lucas_auth).status_code == 201

    def ranked():
        items = requests.get(f"{api}/blogs?order=activity&limit=1500").json()["items"]
        return items if len(items) == 2 and all(i["activity_score"] > 0 for i in items) else None

    items = wait_until(ranked, timeout=30)  # read by the mailer's job, not at the request
    assert [i["url"] for i in items] == ["https://camille.example.org/", "https://lucas.example.org/"]
    assert items[0]["owner"] == {"member_id": camille, "display_name": "Camille M."}
    assert set(items[0]) >= {"id", "url", "activity_score", "owner"}
    assert requests.get(f"{api}/blogs?limit=1501").status_code == 400
    assert requests.get(f"{api}/blogs?order=alphabet").status_code == 400
    assert requests.get(f"{api}/blogs?cursor=nope").status_code == 400

    # Her export lists it; her erasure removes it.
    export = requests.get(f"{api}/members/me/export", headers=camille_auth).json()
    assert [b["url"] for b in export["mailer"]["blogs"]] == ["https://camille.example.org/"]
    assert requests.delete(f"{api}/members/me", headers=camille_auth).status_code in (200, 202, 204)
    wait_until(lambda: [i["url"] for i in requests.get(f"{api}/blogs").json()["items"]]
               == ["https://lucas.example.org/"], timeout=20)
