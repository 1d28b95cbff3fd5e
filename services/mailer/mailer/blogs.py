"""Activists' blogs: registered by their owners, scored from their feeds, the newsletter's targets.

- `register_blog` (a member): `url` and `feed_url` absolute http(s) (400 otherwise), one
  registration per address (409): the blog's id is a keyed hash of its normalised address
  (scheme and host in lower case, default port and fragment dropped, trailing "/" ignored),
  so "once per address" holds by the store's stream key. The addresses are the owner's
  personal data: `mailer.BlogRegistered` is sealed with their key.
- `list_blogs` (anyone): most active first (`order=activity`) or newest (`order=recent`),
  up to 1,500 a page; the owner as `{member_id, display_name}`, the name learnt from
  members' events (directory.py).
- `refresh_feeds` (the "blog feeds" job, never a request): each blog's feed is read at
  most every `refresh_every` seconds (feedreader.py: SSRF guard, timeouts, size cap) and
  its score recorded (`BlogScored`, or `BlogFeedFailed`, which keeps the last score).
- At the owner's erasure their blogs are removed (`BlogRemoved`, the rows go, in a
  rebuild too), and their addresses go with the owner's key; the address may be
  registered again.
- `top_blog_owners(n)`: the owners of the n most active blogs (a campaign's `top_blogs`).
"""
from __future__ import annotations

import logging
import uuid
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit, urlunsplit

import eventlet
from sqlalchemy import Column, DateTime, Float, Index, Integer, String, Table, Text, bindparam, delete, or_, select

from umpnet_kernel.application import UnitOfWork
from umpnet_kernel.errors import Unauthorized, ValidationFailed
from umpnet_kernel.events import Context
from umpnet_kernel.links import keyed_hash
from umpnet_kernel.paging import PageRequest, paginate
from umpnet_kernel.projections import KeyedProjection, handles
from umpnet_kernel.throttle import utc_aware

from . import feedreader, limits
from .directory import recipients
from .domain.blog import Blog
from .events import BlogFeedFailed, BlogRegistered, BlogRemoved, BlogScored
from .registry import forgets, read_models

log = logging.getLogger(__name__)

REFRESH_EVERY = 6 * 3600  # seconds between two reads of one feed
REFRESH_BATCH = 50  # feeds read in one run of the job
FETCHERS = 10  # feeds read at once
ORDERS = ("activity", "recent")

blogs = Table(
    "blogs",
    read_models,
    Column("blog_id", String(36), primary_key=True),
    Column("owner_id", String(36), nullable=False),
    Column("url", Text, nullable=False),
    Column("feed_url", Text, nullable=False),
    Column("activity_score", Float, nullable=False),
    Column("recent_entries", Integer, nullable=False),
    Column("registered_at", DateTime(timezone=True), nullable=False),
    Column("checked_at", DateTime(timezone=True)),
    Column("last_error", String(200)),
)
Index("ix_blogs_activity", blogs.c.activity_score, blogs.c.blog_id)
Index("ix_blogs_owner", blogs.c.owner_id)
Index("ix_blogs_checked", blogs.c.checked_at)


class BlogsProjection(KeyedProjection):
    name = "blogs"
    table = blogs
    key_column = "blog_id"

    @handles(BlogRegistered)
    def registered(self, row, e: BlogRegistered, recorded):
        if not e.url:  # its owner's key is gone (erased): nothing to list
            return None
        return {"blog_id": e.blog_id, "owner_id": e.owner_id, "url": e.url, "feed_url": e.feed_url,
                "activity_score": 0.0, "recent_entries": 0, "registered_at": recorded.meta.occurred_at,
                "checked_at": None, "last_error": None}

    @handles(BlogScored)
    def scored(self, row, e: BlogScored, recorded):
        return row and {**row, "activity_score": e.activity_score, "recent_entries": e.recent_entries,
                        "checked_at": e.checked_at, "last_error": None}

    @handles(BlogFeedFailed)
    def failed(self, row, e: BlogFeedFailed, recorded):
        return row and {**row, "checked_at": e.checked_at, "last_error": e.reason}

    @handles(BlogRemoved)
    def removed(self, row, e, recorded):
        return None


@forgets
def forget_blogs(conn, member_id: str) -> None:
    conn.execute(delete(blogs).where(blogs.c.owner_id == member_id))


def _invalid(field: str, message: str) -> ValidationFailed:
    return ValidationFailed(message, {field: [message]})


def web_address(value, field: str) -> str:
    """An absolute http(s) address, normalised (400 otherwise)."""
    text = value.strip() if isinstance(value, str) else ""
    if not text:
        raise _invalid(field, "Ce champ est obligatoire.")
    if len(text) > limits.URL_MAX or any(c.isspace() or ord(c) < 32 for c in text):
        raise _invalid(field, "Adresse web invalide (http:// ou https://).")
    parts = urlsplit(text)
    try:
        port = parts.port
    except ValueError:
        port = -1
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or port == -1 or "." not in parts.hostname \
            and parts.hostname != "localhost":
        raise _invalid(field, "Adresse web invalide (http:// ou https://).")
    if parts.username or parts.password:
        raise _invalid(field, "Pas d'identifiant ni de mot de passe dans l'adresse.")
    scheme = parts.scheme.lower()
    host = parts.hostname.lower()
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}[scheme]
    netloc = host if port in (None, default) else f"{host}:{port}"
    return urlunsplit((scheme, netloc, parts.path or "/", parts.query, ""))


def _owner(row) -> dict:
    return {"member_id": row.owner_id, "display_name": row.display_name or "Membre"}


def _item(row) -> dict:
    return {"id": row.blog_id, "url": row.url, "feed_url": row.feed_url, "activity_score": row.activity_score,
            "recent_entries": row.recent_entries, "checked_at": utc_aware(row.checked_at), "owner": _owner(row)}


_LISTED = (select(blogs.c.blog_id, blogs.c.url, blogs.c.feed_url, blogs.c.activity_score, blogs.c.recent_entries,
                  blogs.c.checked_at, blogs.c.registered_at, blogs.c.owner_id, recipients.c.display_name)
           .select_from(blogs.outerjoin(recipients, recipients.c.member_id == blogs.c.owner_id)))
_ORDERS = {"activity": [blogs.c.activity_score.desc(), blogs.c.blog_id],
           "recent": [blogs.c.registered_at.desc(), blogs.c.blog_id]}
_TOP_OWNERS = (select(blogs.c.owner_id).order_by(blogs.c.activity_score.desc(), blogs.c.blog_id)
               .limit(bindparam("n", type_=Integer)))


class Blogs:
    """Mixed into `MailerApp` (`self._secret_key`; `blog_fetch_allow_private` and `blog_refresh_every`
    are set from its config)."""

    blog_fetch_allow_private = False
    blog_refresh_every = REFRESH_EVERY

    def blog_id_for(self, url: str) -> str:
        parts = urlsplit(url)
        key = urlunsplit((parts.scheme, parts.netloc, parts.path.rstrip("/"), parts.query, ""))
        return str(uuid.UUID(hex=keyed_hash(self._secret_key, "mailer.blog", key)[:32]))

    def register_blog(self, data: dict, context: Context) -> dict:
        if not context.actor_id:
            raise Unauthorized("Connectez-vous d'abord.")
        url = web_address(data.get("url"), "url")
        feed_url = web_address(data.get("feed_url"), "feed_url")
        blog_id = self.blog_id_for(url)

        def run(uow: UnitOfWork):
            blog = uow.get(Blog, blog_id)
            if blog is None:
                blog = Blog(blog_id)
                uow.add(blog)
            blog.register(context.actor_id, url, feed_url)  # 409 when listed already
            return {"id": blog_id, "url": url, "feed_url": feed_url, "activity_score": 0.0}

        return self.execute_once(context, "register_blog", run)

    def list_blogs(self, order: str = "activity", limit=None, cursor=None) -> dict:
        if order not in ORDERS:
            raise _invalid("order", "Une de ces valeurs : activity, recent.")
        page = PageRequest.parse(limit, cursor, max_limit=limits.BLOGS_LIST_MAX)
        with self.read() as conn:
            return paginate(conn, _LISTED, _ORDERS[order], page, row=_item).as_dict()

    @staticmethod
    def top_blog_owners(conn, n: int) -> frozenset[str]:
        return frozenset(r.owner_id for r in conn.execute(_TOP_OWNERS, {"n": n}))

    def blogs_of(self, member_id: str) -> list[dict]:
        with self.read() as conn:
            rows = conn.execute(select(blogs).where(blogs.c.owner_id == member_id)
                                .order_by(blogs.c.registered_at)).mappings().all()
        return [dict(r) for r in rows]

    def remove_owned_blogs(self, uow: UnitOfWork, member_id: str) -> None:
        """At the owner's erasure (privacy.py), in its transaction."""
        for blog_id in uow.conn.execute(select(blogs.c.blog_id).where(blogs.c.owner_id == member_id)).scalars().all():
            blog = uow.get(Blog, blog_id)
            if blog is not None:
                blog.remove("owner-erased")

    # -- the "blog feeds" job ------------------------------------------------------------------
    def refresh_feeds(self, now: datetime | None = None, fetch=None, batch: int = REFRESH_BATCH) -> int:
        """Read the feeds due (never read, or not for `blog_refresh_every` seconds) and record
        their scores; how many were read."""
        now = now or datetime.now(timezone.utc)
        fetch = fetch or (lambda url: feedreader.fetch(url, allow_private=self.blog_fetch_allow_private))
        cutoff = now - timedelta(seconds=self.blog_refresh_every)
        with self.read() as conn:
            due = conn.execute(select(blogs.c.blog_id, blogs.c.feed_url)
                               .where(or_(blogs.c.checked_at.is_(None), blogs.c.checked_at <= cutoff))
                               .order_by(blogs.c.checked_at.is_not(None), blogs.c.checked_at, blogs.c.blog_id)
                               .limit(batch)).all()

        def read(blog):
            try:
                return blog.blog_id, feedreader.activity(fetch(blog.feed_url), now), None
            except feedreader.FeedRefused as refused:
                return blog.blog_id, None, str(refused)
            except Exception as exc:  # one broken feed must not stop the others; the class only, no content
                return blog.blog_id, None, f"unreadable ({type(exc).__name__})"

        pool = eventlet.GreenPool(FETCHERS)
        outcomes = list(pool.imap(read, due))

        def record(blog_id, scored, failure):
            def command(uow: UnitOfWork):
                blog = uow.get(Blog, blog_id)
                if blog is None:
                    return
                if scored is not None:
                    blog.scored(scored[0], scored[1], now)
                else:
                    blog.feed_failed(failure, now)

            return Context(), command

        if outcomes:
            self.execute_many([record(*outcome) for outcome in outcomes])
        for blog_id, _, failure in outcomes:
            if failure:
                log.info("feed of blog %s not read: %s", blog_id, failure)
        return len(outcomes)

    @staticmethod
    def registered_any(recorded) -> bool:
        return any(isinstance(r.event, BlogRegistered) for r in recorded)
