"""OPML subscription lists: read (any OPML 1.0/2.0 a reader exports) and written (OPML 2.0), with no I/O.

Reading: every ``<outline>`` with an ``xmlUrl`` (any case: ``xmlurl`` is common) is a feed, at any depth (folders
are outlines too, and are flattened); its title is ``title``, else ``text``. Feed URLs must be http(s) (``feed:``
URLs are read as the http(s) URL they wrap); an outline whose URL is not one, or repeats an earlier one, is skipped,
and ``read_opml`` says which and why (``parse_opml`` gives the feeds alone). XML is read as feeds are (``safe_xml``:
no DTD subset, nothing external). Bounds: ``MAX_OPML_BYTES``, ``MAX_OUTLINES`` outlines (past it the list is refused:
a cut import would silently lose subscriptions), ``MAX_DEPTH`` levels.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from xml.sax.saxutils import quoteattr

from linkcast.core.errors import InvalidInput, PayloadTooLarge
from linkcast.core.inputs import validate_url
from linkcast.feeds.safe_xml import XmlRefused, entity_text, feed_parser, safe_parser, xml_text

MAX_OPML_BYTES = 10 * 1024 * 1024
MAX_OUTLINES = 10_000
MAX_DEPTH = 64
MAX_TITLE_CHARS = 1024
# Why an outline is skipped (``OpmlDocument.skipped``): clients tell a repeat, which loses nothing, from the others.
NOT_HTTP_URL = "not an http(s) URL"
REPEATED_OUTLINE = "a repeat of an earlier outline"
_XML_FORBIDDEN = {code: None for code in (*range(0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0xFFFE, 0xFFFF)}
_ATTRIBUTE_WHITESPACE = {"\t": "&#9;", "\n": "&#10;", "\r": "&#13;"}  # kept through attribute normalisation


class OpmlError(InvalidInput):
    """An OPML list that cannot be read. ``code``: ``invalid_opml`` (not OPML, broken XML), ``unsafe_xml`` (a DTD
    subset), ``too_many_outlines``, ``too_complex`` (nested too deep)."""

    code = "invalid_opml"


@dataclass(frozen=True, slots=True)
class OpmlFeed:
    xml_url: str  # http(s), WHATWG-normalised
    title: str | None = None
    html_url: str | None = None  # http(s), or None


@dataclass(frozen=True, slots=True)
class OpmlDocument:
    """An OPML list read: its title, its feeds in document order, and the outlines skipped with the reason."""

    title: str | None
    feeds: list[OpmlFeed]
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (xmlUrl as written, why)


def parse_opml(body: bytes) -> list[OpmlFeed]:
    """The feeds of an OPML list (see ``read_opml``)."""
    return read_opml(body).feeds


def read_opml(body: bytes, *, max_seconds: float = 10.0) -> OpmlDocument:
    """Read an OPML list; ``OpmlError`` (400) or ``PayloadTooLarge`` (413) when it cannot be."""
    if len(body) > MAX_OPML_BYTES:
        raise PayloadTooLarge(f"an OPML list may have at most {MAX_OPML_BYTES} bytes, not {len(body)}")
    reader = _Reader()
    try:
        feed_parser(reader.parser, xml_text(body, None), time.monotonic() + max_seconds, lambda: None)
    except XmlRefused as refused:
        code = {"invalid": "invalid_opml"}.get(refused.code, refused.code)
        raise OpmlError(refused.message.replace("not a feed", "not OPML"), code=code) from None
    if not reader.seen_root:
        raise OpmlError("not OPML: the document has no <opml> root element")
    return OpmlDocument(reader.title, list(reader.feeds.values()), reader.skipped)


class _Reader:
    def __init__(self) -> None:
        self.depth = 0
        self.outlines = 0
        self.seen_root = False
        self.title: str | None = None
        self.title_parts: list[str] | None = None
        self.title_size = 0  # characters in title_parts, kept as they come: summing them at each piece was quadratic
        self.feeds: dict[str, OpmlFeed] = {}
        self.skipped: list[tuple[str, str]] = []
        parser = safe_parser()
        parser.StartElementHandler = self._start
        parser.EndElementHandler = self._end
        parser.CharacterDataHandler = self._characters
        parser.SkippedEntityHandler = self._skipped_entity
        self.parser = parser

    def _start(self, name: str, attributes: dict[str, str]) -> None:
        self.depth += 1
        local = name.rpartition(":")[2].lower()
        if self.depth == 1:
            if local != "opml":
                raise XmlRefused("invalid", f"not OPML: the document is a <{local}>")
            self.seen_root = True
        elif self.depth > MAX_DEPTH:
            raise XmlRefused("too_complex", f"outlines nested more than {MAX_DEPTH} deep")
        elif local == "title" and self.depth == 3 and self.title is None:
            self.title_parts, self.title_size = [], 0
        elif local == "outline":
            self.outlines += 1
            if self.outlines > MAX_OUTLINES:
                raise XmlRefused("too_many_outlines", f"an OPML list may have at most {MAX_OUTLINES} outlines")
            self._outline({key.lower(): value for key, value in attributes.items()})

    def _end(self, _name: str) -> None:
        if self.title_parts is not None and self.depth == 3:
            self.title = " ".join("".join(self.title_parts).split())[:MAX_TITLE_CHARS] or None
            self.title_parts = None
        self.depth -= 1

    def _characters(self, data: str) -> None:
        # Each entity reference (&nbsp;) is a piece of its own: a 1 MB title of them took 10 s when every piece summed
        # the lengths of all before it.
        if self.title_parts is not None and self.title_size < MAX_TITLE_CHARS * 4:
            self.title_parts.append(data)
            self.title_size += len(data)

    def _skipped_entity(self, name: str, _is_parameter: bool) -> None:
        self._characters(entity_text(name))

    def _outline(self, attributes: dict[str, str]) -> None:
        written = attributes.get("xmlurl")
        if written is None:
            return  # a folder, or a note
        url = _feed_url(written)
        if url is None:
            self.skipped.append((written[:MAX_TITLE_CHARS], NOT_HTTP_URL))
        elif url in self.feeds:
            self.skipped.append((written[:MAX_TITLE_CHARS], REPEATED_OUTLINE))
        else:
            title = attributes.get("title") or attributes.get("text") or ""
            home = attributes.get("htmlurl")
            self.feeds[url] = OpmlFeed(url, title[:MAX_TITLE_CHARS] or None, _feed_url(home) if home else None)


def _feed_url(written: str) -> str | None:
    url = written.strip()
    if url[:5].lower() == "feed:":  # feed://host/path and feed:https://host/path
        url = url[5:] if url[5:12].lower() in ("http://", "https:/") else "http:" + url[5:]
    try:
        return validate_url(url)
    except InvalidInput:
        return None


def export_opml(feeds: list[OpmlFeed], title: str) -> bytes:
    """An OPML 2.0 document listing ``feeds`` (UTF-8; every value escaped, so ``read_opml`` reads them back)."""
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<opml version="2.0">',
        f"  <head>\n    <title>{_text(title)}</title>\n  </head>",
        "  <body>",
    ]
    for feed in feeds:
        name = feed.title or ""
        attributes = f'type="rss" text={_attribute(name)} title={_attribute(name)} xmlUrl={_attribute(feed.xml_url)}'
        if feed.html_url:
            attributes += f" htmlUrl={_attribute(feed.html_url)}"
        lines.append(f"    <outline {attributes}/>")
    lines += ["  </body>", "</opml>", ""]
    return "\n".join(lines).encode("utf-8", "replace")


def _text(value: str) -> str:
    cleaned = value.translate(_XML_FORBIDDEN)
    return cleaned.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _attribute(value: str) -> str:
    return quoteattr(value.translate(_XML_FORBIDDEN), _ATTRIBUTE_WHITESPACE)
