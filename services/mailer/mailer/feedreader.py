"""Reading a blog's feed, carefully, and scoring its activity.

The feed address is typed by a member: fetching it is a request the platform makes
on their behalf, from inside its network. So (SSRF):
- only http(s), on an address that resolves to public IPs only: loopback, private,
  link-local (cloud metadata), multicast, reserved and unspecified addresses are
  refused, unless `allow_private` (tests, which serve feeds from 127.0.0.1). Each
  redirect (3 at most) is checked again;
- connect and read timeouts (5 s each), and the whole fetch within `TOTAL_TIMEOUT`;
- at most `MAX_BYTES` read: a larger body is refused, never parsed;
- feedparser parses the bytes we fetched: it never fetches anything itself.
The address is resolved just before the request; a name that resolves differently a
moment later (DNS rebinding) is the remaining gap, closed in production by an egress
proxy or firewall that refuses private ranges too (deploy docs).

Score: each entry published in the last 90 days counts 2^(-age / 30 days) (one today
counts 1, one a month old 0.5, two months 0.25); older or undated entries count nothing,
entries dated in the future count as today. So a blog that posts weekly scores about 5.6,
one silent for three months 0.
"""
from __future__ import annotations

import calendar
import ipaddress
import socket
from datetime import datetime, timezone
from urllib.parse import urljoin, urlsplit

import eventlet
import feedparser
import requests

MAX_BYTES = 2_000_000
TIMEOUTS = (5, 5)  # seconds: connect, read (between bytes)
TOTAL_TIMEOUT = 20  # seconds for the whole fetch, redirects included
MAX_REDIRECTS = 3
WINDOW_DAYS = 90
HALF_LIFE_DAYS = 30
USER_AGENT = "UMPnet-blogs/1.0 (+feed activity)"


class FeedRefused(Exception):
    """The feed could not be read; the text is a short reason (no content, no address)."""


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    # is_global also refuses the shared address space 100.64.0.0/10 (a cloud's metadata address
    # may sit there), which is_private does not; the others stay for what is_global lets through
    # (64:ff9b::/96, NAT64 to any IPv4 address, loopback included)
    return ip.is_global and not (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast
                                 or ip.is_reserved or ip.is_unspecified)


def check_address(url: str, allow_private: bool = False) -> None:
    """Refuse an address that is not http(s), or whose host resolves to a non-public IP."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FeedRefused("not an http(s) address")
    if allow_private:
        return
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(parts.hostname, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, ValueError, UnicodeError):
        raise FeedRefused("unknown host") from None
    if not infos or not all(_public(info[4][0]) for info in infos):
        raise FeedRefused("refused address (not public)")


def fetch(url: str, allow_private: bool = False) -> bytes:
    """The feed's bytes, or `FeedRefused`."""
    with eventlet.Timeout(TOTAL_TIMEOUT, FeedRefused("too slow")):
        for _ in range(MAX_REDIRECTS + 1):
            check_address(url, allow_private)
            try:
                response = requests.get(url, timeout=TIMEOUTS, stream=True, allow_redirects=False,
                                        headers={"User-Agent": USER_AGENT,
                                                 "Accept": "application/rss+xml, application/atom+xml, "
                                                           "application/xml;q=0.9, */*;q=0.5"})
            except requests.RequestException as exc:
                raise FeedRefused(f"unreachable ({type(exc).__name__})") from None
            with response:
                if response.is_redirect and response.headers.get("Location"):
                    url = urljoin(url, response.headers["Location"])
                    continue
                if response.status_code != 200:
                    raise FeedRefused(f"HTTP {response.status_code}")
                declared = response.headers.get("Content-Length")
                if declared and declared.isdigit() and int(declared) > MAX_BYTES:
                    raise FeedRefused("too large")
                body = bytearray()
                try:
                    for chunk in response.iter_content(64 * 1024):
                        body += chunk
                        if len(body) > MAX_BYTES:
                            raise FeedRefused("too large")
                except requests.RequestException as exc:
                    raise FeedRefused(f"unreachable ({type(exc).__name__})") from None
                return bytes(body)
        raise FeedRefused("too many redirects")


def _published(entry) -> datetime | None:
    moment = entry.get("published_parsed") or entry.get("updated_parsed")
    if not moment:
        return None
    return datetime.fromtimestamp(calendar.timegm(moment), timezone.utc)


def activity(content: bytes, now: datetime) -> tuple[float, int]:
    """(the activity score, the entries of the last 90 days) of a feed's bytes; `FeedRefused`
    for something that is not a feed."""
    parsed = feedparser.parse(content)
    if not parsed.get("version") and not parsed.entries:
        raise FeedRefused("not a feed")
    score, recent = 0.0, 0
    for entry in parsed.entries:
        published = _published(entry)
        if published is None:
            continue
        age_days = max((now - published).total_seconds() / 86400, 0.0)
        if age_days <= WINDOW_DAYS:
            recent += 1
            score += 2 ** (-age_days / HALF_LIFE_DAYS)
    return round(score, 3), recent
