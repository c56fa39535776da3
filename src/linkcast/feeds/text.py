"""Feed text to plain text: markup stripped, entities decoded, whitespace collapsed, length bounded.

HTML is read by lexbor (the parser ``core.links`` uses), so markup is stripped as a browser would read it, not by a
regular expression: ``a < b`` stays, ``<b>bold</b>er`` is one word, script and style text is not text at all.
"""

from __future__ import annotations

import re

from selectolax.lexbor import LexborHTMLParser

# Inline elements are unwrapped before the text is taken, so they do not split a word; block boundaries and <br>
# still separate words.
_INLINE = [
    "a", "abbr", "b", "bdi", "bdo", "cite", "code", "data", "del", "dfn", "em", "font", "i", "ins", "kbd", "mark",
    "q", "s", "samp", "small", "span", "strike", "strong", "sub", "sup", "time", "tt", "u", "var",
]  # fmt: skip
_NOT_TEXT = ["script", "style", "template", "noscript", "head"]
_MARKUP = re.compile(r"<[A-Za-z/!?]|&(?:#\d+|#x[0-9A-Fa-f]+|[A-Za-z][A-Za-z0-9]*);?")
# Text wanted is a summary's 1,000 characters: markup past this far into the content is not read for it.
SUMMARY_MARKUP_CHARS = 64 * 1024


def collapse(text: str, limit: int) -> str | None:
    """``text`` with runs of whitespace made one space, trimmed, at most ``limit`` characters; None if empty."""
    collapsed = " ".join(text[: limit * 4 + 64].split()) if len(text) > limit * 4 + 64 else " ".join(text.split())
    return collapsed[:limit].rstrip() or None


def html_text(markup: str, limit: int) -> str | None:
    """The text a reader sees in the HTML fragment ``markup``, collapsed and bounded; None if there is none."""
    if not _MARKUP.search(markup):
        return collapse(markup, limit)
    tree = LexborHTMLParser(markup[:SUMMARY_MARKUP_CHARS])
    tree.strip_tags(_NOT_TEXT)
    tree.unwrap_tags(_INLINE)
    tree.merge_text_nodes()
    body = tree.body
    text = body.text(separator=" ") if body is not None else ""
    return collapse(text, limit)


def looks_like_html(text: str) -> bool:
    """Whether ``text`` (an RSS title, whose type no spec says) holds a tag or an entity, so is HTML to strip."""
    return _MARKUP.search(text) is not None
