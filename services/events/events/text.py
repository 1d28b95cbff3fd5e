"""User text shown as HTML: Markdown rendered by markdown-it, then sanitised by nh3.

The renderer's own raw-HTML switch is off, and nh3 cleans what it outputs
anyway (links only to http, https and mailto, `rel="noopener noreferrer nofollow"`):
an organizer's description can hold no script, style or event handler.
"""
from __future__ import annotations

import nh3
from markdown_it import MarkdownIt

_MARKDOWN = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table").enable("strikethrough")
_TAGS = {"p", "br", "strong", "em", "del", "s", "ul", "ol", "li", "blockquote", "code", "pre", "h1", "h2", "h3",
         "h4", "h5", "h6", "hr", "a", "table", "thead", "tbody", "tr", "th", "td"}


def markdown_to_html(text: str) -> str:
    return nh3.clean(_MARKDOWN.render(text or ""), tags=_TAGS, attributes={"a": {"href", "title"}},
                     url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer nofollow")
