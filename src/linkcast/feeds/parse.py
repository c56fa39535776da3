"""``parse_feed``: a fetched body to a ``ParsedFeed`` (RSS, Atom or JSON Feed), or a ``FeedError`` saying why not.

The format is told by the body, not the Content-Type (feeds are served as text/xml, text/html, application/octet-
stream...): after a byte order mark and whitespace, ``{`` is JSON and ``<`` is XML; XML is RSS, RSS 1.0 or Atom by
its root element. The Content-Type's ``charset`` is used to decode (see ``safe_xml``).

Cost (bench/README.md, "Feeds"): a 10 MB feed of 5,200 entries takes 0.7 s to read whole on one core (2.6 s on a
loaded machine), its first 1,000 entries (the default ``max_entries``) 0.2 s; most of it is expat's callbacks and a
lexbor parse per entry with links. The caller may run it in a thread. Whatever the feed, reading stops at
``limits.max_seconds`` (``too_complex``).
"""

from __future__ import annotations

from linkcast.core.errors import LinkcastError
from linkcast.feeds.json_feed import read_json_feed
from linkcast.feeds.model import MAX_ENTRIES, FeedLimits, ParsedFeed
from linkcast.feeds.safe_xml import XmlRefused
from linkcast.feeds.xml_feed import read_xml_feed

_BOMS = (b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")
_WHITESPACE = b" \t\r\n\x0c"
_CODES = {"invalid": "invalid_feed"}  # the others are the same in both


class FeedError(LinkcastError):
    """A body that gives no feed. ``code``: ``not_a_feed`` (HTML, JSON that is no JSON Feed, plain text...),
    ``invalid_feed`` (broken XML or JSON), ``unsafe_xml`` (a DTD declaring entities), ``too_complex`` (nested too
    deep, or past the time bound). A 502, like the fetch errors: the feed's server gave something unusable. Not a
    ``FetchError``: nothing here is transient, so whatever retries failed fetches must not retry these."""

    code = "invalid_feed"
    http_status = 502


def parse_feed(
    body: bytes,
    url: str,
    content_type: str | None = None,
    *,
    max_entries: int = MAX_ENTRIES,
    limits: FeedLimits | None = None,
) -> ParsedFeed:
    """Read the feed ``body`` fetched from ``url`` (the final URL: relative links resolve against it)."""
    limits = limits or FeedLimits()
    max_entries = max(0, max_entries)
    start = body_start(body)
    try:
        if start == b"{":
            return read_json_feed(body, url, content_type, max_entries, limits)
        if start == b"<":
            return read_xml_feed(body, url, content_type, max_entries, limits)
    except XmlRefused as refused:
        raise FeedError(refused.message, code=_CODES.get(refused.code, refused.code)) from None
    raise FeedError("not a feed: the body is neither XML nor JSON", code="not_a_feed")


def body_start(body: bytes) -> bytes:
    """The first character of the document that counts: ``<``, ``{``, something else, or b"" for an empty one."""
    head = body[:4096]
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or head[:2] in (b"<\x00", b"\x00<"):
        encoding = "utf-16be" if head.startswith(b"\xfe\xff") or head.startswith(b"\x00") else "utf-16le"
        text = head[: len(head) // 2 * 2].decode(encoding, "replace").lstrip("\ufeff \t\r\n\x0c")
        return text[:1].encode("ascii", "replace")
    for bom in _BOMS:
        head = head.removeprefix(bom)
    return head.lstrip(_WHITESPACE)[:1]
