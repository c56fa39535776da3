"""Feed text to plain text: markup stripped, entities decoded, whitespace collapsed, length bounded.

HTML is read by lexbor (the parser ``core.links`` uses), so markup is stripped as a browser would read it, not by a
regular expression: ``a < b`` stays, ``<b>bold</b>er`` is one word, script and style text is not text at all.
"""

from __future__ import annotations

import html
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
_INLINE_SET = frozenset(_INLINE)
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
                   "track", "wbr", "keygen"})  # fmt: skip
SIMPLE_MARKUP_CHARS = 16 * 1024
# Elements whose text is not text (raw text, foreign content), or that move text elsewhere (tables, the head), and
# any markup that is not a start or end tag.
_NOT_SIMPLE = re.compile(
    r"<(?:[!?]|/?(?:script|style|template|textarea|title|noscript|xmp|iframe|noembed|noframes|plaintext|table|"
    r"caption|colgroup|col|tbody|thead|tfoot|tr|td|th|select|option|optgroup|head|html|body|frameset|frame|svg|"
    r"math|image)[\t\n\f\r />])",
    re.IGNORECASE,
)
# A start or end tag whose attributes are plainly written: quoted values hold no quote of the other kind, and no
# quote appears outside a value (the tokenizer's "unexpected character" cases are left to lexbor). Possessive, as
# the tokenizer is: an unquoted value keeps its "/" (the tokenizer's reading), where a backtracking one was also tried
# ending at each "/" with the rest as attributes, many ways to fail (16 KiB of <a x=b/b/b... took seconds).
_TAG = re.compile(
    r"<(/?)([A-Za-z][^\t\n\f\r />]*+)(?:[\t\n\f\r /]++[^\t\n\f\r />\"'=]++(?:[\t\n\f\r ]*+=[\t\n\f\r ]*+"
    r"(?:\"[^\"]*+\"|'[^']*+'|[^\t\n\f\r >\"'=<`]++))?)*+[\t\n\f\r /]*+>"
)
_TAG_START = re.compile(r"<[A-Za-z/!?]")
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
    markup = markup[:SUMMARY_MARKUP_CHARS]
    simple = _simple_text(markup) if len(markup) <= SIMPLE_MARKUP_CHARS else None
    if simple is not None:
        return collapse(simple, limit)
    tree = LexborHTMLParser(markup)
    tree.strip_tags(_NOT_TEXT)
    tree.unwrap_tags(_INLINE, delete_empty=True)  # an empty one left in place would split its word in two
    tree.merge_text_nodes()
    body = tree.body
    text = body.text(separator=" ") if body is not None else ""
    return collapse(text, limit)


def _simple_text(markup: str) -> str | None:
    """The text of markup made only of plain tags and text, read without a parser (which costs ~30 us a call, the
    most of a small entry), or None for anything else: the tokenizer's rules differ from this only in what is
    refused here (comments, raw-text and table elements, a tag left open, quotes where the tokenizer would differ).
    ``tests/feeds/test_text.py`` holds it to lexbor's answer."""
    if _NOT_SIMPLE.search(markup):
        return None
    open_elements: list[str] = []
    parts: list[str] = []
    position = 0
    # Each tag is matched where one starts, and the first that does not match ends the reading (the tokenizer would
    # read it as markup, which is lexbor's to do): searching on past it tried the pattern again at every later "<",
    # each try running to the end (16 KiB of "<a <a <a..." took 2.4 s, holding the GIL).
    while (start := _TAG_START.search(markup, position)) is not None:
        tag = _TAG.match(markup, start.start())
        if tag is None:
            return None
        closing, name = tag.group(1), tag.group(2).lower()
        if closing:  # tags must nest properly: the tree builder's repairs (implied ends, stray ends) are left to it
            if not open_elements or open_elements.pop() != name:
                return None
        elif name not in _VOID:
            open_elements.append(name)
        parts += (markup[position : tag.start()], "" if name in _INLINE_SET else " ")
        position = tag.end()
    parts.append(markup[position:])
    text = "".join(parts)
    if open_elements or _TAG_START.search(text):
        return None  # an element left open, or markup formed by joining the text around a tag ("<<b></b>p")
    return html.unescape(text)


def looks_like_html(text: str) -> bool:
    """Whether ``text`` (an RSS title, whose type no spec says) holds a tag or an entity, so is HTML to strip."""
    return _MARKUP.search(text) is not None
