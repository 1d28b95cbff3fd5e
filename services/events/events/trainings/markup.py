"""Module texts and course descriptions: Markdown rendered to HTML, then sanitised.

markdown-it-py's CommonMark with raw HTML off, then nh3 (Ammonia) as the last word:
whatever the renderer lets through, only harmless tags and http(s)/mailto links
reach a page (a `javascript:` link, an `onerror` attribute, a <script> are gone).
"""
from __future__ import annotations

from functools import lru_cache

import nh3
from markdown_it import MarkdownIt

URL_SCHEMES = {"http", "https", "mailto"}


@lru_cache(maxsize=1)
def _renderer() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False}).enable("table").enable("strikethrough")


def render(markdown: str) -> str:
    """Sanitised HTML of a Markdown text."""
    if not markdown:
        return ""
    return nh3.clean(_renderer().render(markdown), url_schemes=URL_SCHEMES,
                     link_rel="noopener noreferrer nofollow")
