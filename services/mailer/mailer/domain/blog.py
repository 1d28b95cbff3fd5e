"""A member's blog: registered once per address, scored from its feed, removed with its owner."""
from __future__ import annotations

from datetime import datetime

from umpnet_kernel.aggregate import Aggregate, applies
from umpnet_kernel.errors import Conflict

from ..events import BlogFeedFailed, BlogRegistered, BlogRemoved, BlogScored


class Blog(Aggregate):
    stream_prefix = "blog"  # the id is a keyed hash of the normalised address (blogs.blog_id_for)

    def __init__(self, id: str):
        super().__init__(id)
        self.listed = False
        self.owner_id: str | None = None

    def register(self, owner_id: str, url: str, feed_url: str) -> None:
        if self.listed:
            raise Conflict("Ce blog est déjà inscrit.")
        self._record(BlogRegistered(blog_id=self.id, owner_id=owner_id, url=url, feed_url=feed_url))

    def scored(self, score: float, recent_entries: int, now: datetime) -> None:
        if self.listed:
            self._record(BlogScored(blog_id=self.id, activity_score=score, recent_entries=recent_entries,
                                    checked_at=now))

    def feed_failed(self, reason: str, now: datetime) -> None:
        if self.listed:
            self._record(BlogFeedFailed(blog_id=self.id, reason=reason[:200], checked_at=now))

    def remove(self, reason: str) -> None:
        if self.listed:
            self._record(BlogRemoved(blog_id=self.id, reason=reason))

    @applies(BlogRegistered)
    def _registered(self, e: BlogRegistered):
        self.listed, self.owner_id = True, e.owner_id

    @applies(BlogScored)
    def _scored(self, e):
        pass

    @applies(BlogFeedFailed)
    def _failed(self, e):
        pass

    @applies(BlogRemoved)
    def _removed(self, e):
        self.listed, self.owner_id = False, None
