"""Contributions' Markdown as HTML that is safe to put in a page.

Two layers, so that a slip in one is caught by the other: markdown-it renders
CommonMark with raw HTML off (a `<script>` typed in the text comes out as text)
and images off (no tracking pixel: an image would be fetched by every reader's
browser) and links only to absolute http, https or mailto addresses (any other
stays as typed), then nh3 (ammonia) keeps only the tags and attributes listed
here and, again, only such links, each given
`rel="nofollow ugc noopener"` (user-generated, not endorsed, no `window.opener`).
"""
from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

TAGS = {"p", "br", "strong", "em", "del", "code", "pre", "blockquote", "ul", "ol", "li", "a", "hr",
        "h3", "h4", "h5", "h6"}
ATTRIBUTES = {"a": {"href"}, "ol": {"start"}}
SCHEMES = {"http", "https", "mailto"}
REL = "nofollow ugc noopener"

ABSOLUTE = ("http://", "https://", "mailto:")

_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False}).disable("image")


def _absolute(url: str) -> bool:
    """The one link rule: absolute http, https or mailto."""
    return url.strip().lower().startswith(ABSOLUTE)


# markdown-it applies it first: a link it refuses stays as the text the author typed, rather
# than becoming an <a> whose href the sanitiser strips (a "link" that goes nowhere); nh3 then
# applies it again, the backstop.
_markdown.validateLink = _absolute


def _headings_down(html: str) -> str:
    # A contribution sits under the page's own h1/h2: its headings start at h3.
    for level in (2, 1):
        html = html.replace(f"<h{level}>", f"<h{level + 2}>").replace(f"</h{level}>", f"</h{level + 2}>")
    return html


def _absolute_links_only(tag: str, attribute: str, value: str) -> str | None:
    """Links are absolute http, https or mailto ones: a relative or protocol-relative link
    ("/admin", "//elsewhere.example") is dropped rather than left to point somewhere unsaid."""
    if tag == "a" and attribute == "href" and not _absolute(value):
        return None
    return value


def render(markdown: str) -> str:
    """The body as sanitised HTML ("" for an empty body: an erased author's)."""
    if not markdown:
        return ""
    html = _headings_down(_markdown.render(markdown))
    return nh3.clean(html, tags=TAGS, attributes=ATTRIBUTES, url_schemes=SCHEMES, link_rel=REL,
                     strip_comments=True, attribute_filter=_absolute_links_only).strip()


def plain_text(markdown: str) -> str:
    """What full-text search indexes: the words, without markup."""
    return nh3.clean(_markdown.render(markdown or ""), tags=set()).strip()
