"""Blogs on the in-memory database (blog_cases.py), and the feed reader's guards
(mailer/feedreader.py: SSRF, size cap) against a real local HTTP server."""
import pytest

from mailer import feedreader
from mailer.application import MailerApp
from mailer.projections import read_models
from umpnet_kernel.idempotency import outcomes_metadata
from umpnet_kernel.testing import in_memory
from umpnet_kernel.throttle import throttle_metadata

from .blog_cases import *  # noqa: F401,F403 (the scenarios, collected here)
from .blog_cases import NOW, rss
from .feeds import SECRET


@pytest.fixture
def app():
    app = in_memory(lambda db: MailerApp(db, "http://testserver", "UMPnet <n@umpnet.invalid>", SECRET), read_models,
                    throttle_metadata, outcomes_metadata)
    yield app
    app.db.dispose()


def test_feeds_on_private_or_loopback_addresses_are_refused_unless_allowed(server):
    server.routes["/f.xml"] = (200, {}, rss(0))
    for url in (server.base + "/f.xml", "http://localhost/", "http://10.0.0.1/", "http://169.254.169.254/latest",
                "http://[::1]/", "http://192.168.1.1/", "file:///etc/passwd",
                "http://100.100.100.200/latest/meta-data",  # shared address space (RFC 6598): a cloud's metadata
                "http://100.64.0.1/", "http://[64:ff9b::7f00:1]/"):  # and loopback through NAT64
        with pytest.raises(feedreader.FeedRefused):
            feedreader.fetch(url)
    assert feedreader.fetch(server.base + "/f.xml", allow_private=True) == rss(0)


@pytest.mark.parametrize("address", ["127.0.0.1", "10.0.0.1", "169.254.169.254", "::1", "100.100.100.200",
                                     "100.64.0.1", "64:ff9b::7f00:1", "fc00::1", "0.0.0.0"])
def test_an_address_that_is_not_public_is_refused_before_any_connection(address):
    url = f"http://[{address}]/" if ":" in address else f"http://{address}/"
    with pytest.raises(feedreader.FeedRefused, match="not public"):
        feedreader.check_address(url)
    feedreader.check_address("http://93.184.216.34/")  # a public one passes (no connection made)


def test_a_feed_larger_than_the_cap_or_not_a_feed_is_refused(server, monkeypatch):
    monkeypatch.setattr(feedreader, "MAX_BYTES", 1000)
    server.routes["/big"] = (200, {}, b"x" * 5000)
    with pytest.raises(feedreader.FeedRefused, match="too large"):
        feedreader.fetch(server.base + "/big", allow_private=True)
    with pytest.raises(feedreader.FeedRefused, match="not a feed"):
        feedreader.activity(b"<html><body>hello</body></html>", NOW)
