"""Blogs (mailer/blogs.py): registration rules, the list, the feed's score read by the job
from a real local HTTP server, erasure and export. Run in memory (test_blogs.py) and on
SQLite and PostgreSQL (tests/integration/test_blog_use_cases.py)."""
import http.server
import threading
import uuid
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest

from umpnet_kernel.errors import Conflict, Unauthorized, ValidationFailed
from umpnet_kernel.events import Context

from .feeds import erased, member

NOW = datetime(2026, 12, 3, 12, 0, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def feeds_on_loopback(app):
    app.blog_fetch_allow_private = True  # the feeds below are served from 127.0.0.1


def rss(*ages_in_days) -> bytes:
    items = "".join(f"<item><title>n{n}</title><pubDate>{format_datetime(NOW - timedelta(days=age))}</pubDate></item>"
                    for n, age in enumerate(ages_in_days))
    return f'<?xml version="1.0"?><rss version="2.0"><channel><title>b</title>{items}</channel></rss>'.encode()


@pytest.fixture
def server():
    """A local HTTP server: path -> (status, headers, body)."""
    routes = {}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            status, headers, body = routes.get(self.path, (404, {}, b""))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    httpd.routes = routes
    httpd.base = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield httpd
    httpd.shutdown()


def lea(app):
    member_id = member(app, "lea@example.org", "Léa", "75011")
    return member_id, Context(actor_id=member_id, actor_roles=("member",))


def test_a_blog_is_registered_once_per_address_by_a_member(app):
    _, as_lea = lea(app)
    with pytest.raises(Unauthorized):
        app.register_blog({"url": "https://lea.example.org", "feed_url": "https://lea.example.org/feed"}, Context())
    blog = app.register_blog({"url": "https://Lea.Example.org:443/", "feed_url": "https://lea.example.org/feed"},
                             as_lea)
    assert blog["url"] == "https://lea.example.org/"
    other = Context(actor_id=str(uuid.uuid4()))
    for same in ("https://lea.example.org", "HTTPS://LEA.EXAMPLE.ORG/#top"):
        with pytest.raises(Conflict):
            app.register_blog({"url": same, "feed_url": "https://x.example.org/feed"}, other)


@pytest.mark.parametrize("url, feed_url, field", [
    ("lea.example.org", "https://lea.example.org/feed", "url"),
    ("ftp://lea.example.org", "https://lea.example.org/feed", "url"),
    ("javascript:alert(1)", "https://lea.example.org/feed", "url"),
    ("https://lea.example.org", "/feed", "feed_url"),
    ("https://lea.example.org", "", "feed_url"),
    ("https://user:pw@lea.example.org", "https://lea.example.org/feed", "url"),
    ("https://lea.example.org/" + "x" * 2000, "https://lea.example.org/feed", "url"),
    ("https://lea.example.org:99999", "https://lea.example.org/feed", "url"),
    ("https://lea example.org", "https://lea.example.org/feed", "url"),
])
def test_addresses_must_be_absolute_http_or_https(app, url, feed_url, field):
    _, as_lea = lea(app)
    with pytest.raises(ValidationFailed) as refused:
        app.register_blog({"url": url, "feed_url": feed_url}, as_lea)
    assert field in refused.value.fields


def test_the_job_scores_feeds_by_recent_entries_and_lists_the_most_active_first(app, server):
    lea_id, as_lea = lea(app)
    server.routes["/lea.xml"] = (200, {"Content-Type": "application/rss+xml"}, rss(0, 30, 60, 120))
    server.routes["/zoe.xml"] = (200, {"Content-Type": "application/rss+xml"}, rss(1))
    server.routes["/moved"] = (301, {"Location": "/zoe.xml"}, b"")
    quiet = app.register_blog({"url": "https://zoe.example.org", "feed_url": server.base + "/moved"}, as_lea)
    busy = app.register_blog({"url": "https://lea.example.org", "feed_url": server.base + "/lea.xml"}, as_lea)
    broken = app.register_blog({"url": "https://x.example.org", "feed_url": server.base + "/missing"}, as_lea)
    assert app.list_blogs()["items"][0]["activity_score"] == 0.0  # nothing read at registration
    assert app.refresh_feeds(now=NOW) == 3
    items = app.list_blogs(order="activity")["items"]
    assert [i["id"] for i in items] == [busy["id"], quiet["id"], broken["id"]]
    assert items[0]["activity_score"] == pytest.approx(1 + 0.5 + 0.25, abs=0.001)  # 120 days old: not counted
    assert items[0]["recent_entries"] == 3
    assert items[0]["checked_at"].tzinfo is not None  # API.md: times with a zone
    assert items[0]["owner"] == {"member_id": lea_id, "display_name": "Léa M."}
    assert app.refresh_feeds(now=NOW + timedelta(hours=1)) == 0  # read again only after 6 h
    assert app.refresh_feeds(now=NOW + timedelta(hours=7)) == 3
    with app.read() as conn:
        assert app.top_blog_owners(conn, 1) == {lea_id}
    page = app.list_blogs(limit=2)
    assert len(page["items"]) == 2 and page["next_cursor"]
    assert [i["id"] for i in app.list_blogs(limit=2, cursor=page["next_cursor"])["items"]] == [broken["id"]]
    with pytest.raises(ValidationFailed):
        app.list_blogs(limit=1501)
    with pytest.raises(ValidationFailed):
        app.list_blogs(order="alphabetical")


def test_a_campaign_to_the_top_blogs_reaches_their_owners(app):
    owner_id, as_owner = lea(app)
    member(app, "zoe@example.org", "Zoé", "69003")
    app.register_blog({"url": "https://lea.example.org", "feed_url": "https://lea.example.org/feed"}, as_owner)
    admin = Context(actor_id=str(uuid.uuid4()), actor_roles=("national_admin",))
    created = app.create_campaign({"subject": "Lettre des blogs", "body_markdown": "Bonjour",
                                   "segment": {"top_blogs": True}}, admin)
    assert created["recipient_count"] == 1


def test_an_erased_owners_blogs_go_and_their_address_is_free_again(app):
    owner_id, as_owner = lea(app)
    app.register_blog({"url": "https://lea.example.org", "feed_url": "https://lea.example.org/feed"}, as_owner)
    assert [b["url"] for b in app.export_personal_data(owner_id)["blogs"]] == ["https://lea.example.org/"]
    app.forget_member(erased(owner_id))
    assert app.list_blogs()["items"] == []
    app.rebuild_read_models()
    assert app.list_blogs()["items"] == []
    other = Context(actor_id=str(uuid.uuid4()))
    assert app.register_blog({"url": "https://lea.example.org", "feed_url": "https://lea.example.org/f"}, other)
