"""A campaign's Markdown as HTML safe to put in an email, and as plain text.

The mailer's own renderer (a service never imports another's code), built the
same two-layer way as the debates': markdown-it renders CommonMark with raw HTML
off (a `<script>` typed in the body comes out as text) and images off (no
tracking pixel in a party's email), then nh3 keeps a short list of tags and
http(s)/mailto links only, so a slip of one layer is caught by the other.
"""
from __future__ import annotations

import re

import nh3
from markdown_it import MarkdownIt

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).disable("image")

ALLOWED_TAGS = {"p", "br", "strong", "em", "a", "ul", "ol", "li", "blockquote", "code", "pre", "h1", "h2", "h3",
                "h4", "hr"}
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}
URL_SCHEMES = {"http", "https", "mailto"}


def to_html(markdown: str) -> str:
    html = _markdown.render(markdown or "")
    return nh3.clean(html, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES, url_schemes=URL_SCHEMES,
                     link_rel="noopener noreferrer")


_BLANK_LINES = re.compile(r"\n{3,}")


def to_text(markdown: str) -> str:
    """The plain-text part: the Markdown as written (it reads as text), line ends made even."""
    text = (markdown or "").replace("\r\n", "\n").replace("\r", "\n").strip()
    return _BLANK_LINES.sub("\n\n", text)
