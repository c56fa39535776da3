"""Finding feeds, hubs and a feed's own URL in what a fetch returned: HTML ``<link>``s, ``Link`` headers, the body.

HTML is read as ``core.links`` reads it (lexbor, the document's encoding, its ``<base href>``) and every URL is
resolved browser-exact; only ``<link>`` elements in the head count, as in browsers' feed discovery. ``Link`` header
targets resolve against the response URL (RFC 8288). Everything is bounded: at most ``MAX_FEED_LINKS`` links, and
no URL longer than one the API takes (``MAX_URL_BYTES``): a head may name URLs megabytes long, and one taken as the
feed was polled at every interval with a request line that long, one taken as the hub asked with one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from selectolax.lexbor import LexborHTMLParser

from linkcast.core.encoding import decode, document_encoding
from linkcast.core.inputs import MAX_URL_BYTES
from linkcast.core.resolution import HrefJoiner, resolve_base
from linkcast.feeds.link_header import parse_link_headers
from linkcast.feeds.parse import FeedError, body_start, parse_feed

FEED_TYPES = ("application/rss+xml", "application/atom+xml", "application/feed+json", "application/json")
MAX_FEED_LINKS = 100
SNIFF_BYTES = 64 * 1024  # the root element of a feed is in its first bytes, after at most a prolog
_REFUSED_BASE_SCHEMES = ("data:", "javascript:")


@dataclass(frozen=True, slots=True)
class FeedLink:
    """A feed a page or a response points to: its absolute URL, media type (lower-case) and title."""

    url: str
    type: str
    title: str | None


def _resolved(joiner: HrefJoiner, href: str) -> str | None:
    """The http(s) URL ``href`` stands for, or None: not http(s), invalid, or longer than ``MAX_URL_BYTES``."""
    link = joiner.resolve(href)
    return link if link is not None and len(link.encode()) <= MAX_URL_BYTES else None


def feed_links_in_html(body: bytes, url: str, content_type: str | None = None) -> list[FeedLink]:
    """The ``<link rel="alternate" type="…feed type…" href>`` of the page's head, in document order, each URL once."""
    return feeds_and_hub_in_html(body, url, content_type)[0]


def feeds_and_hub_in_html(body: bytes, url: str, content_type: str | None = None) -> tuple[list[FeedLink], bool]:
    """``feed_links_in_html``, and whether the head names a WebSub hub (``<link rel="hub">``), in one reading."""
    found: dict[str, FeedLink] = {}
    names_hub = False
    for rel, href, media, title, joiner in _head_links(body, url, content_type):
        if "hub" in rel:
            names_hub = names_hub or _resolved(joiner, href) is not None
        if "alternate" not in rel or media not in FEED_TYPES or len(found) >= MAX_FEED_LINKS:
            continue
        link = _resolved(joiner, href)
        if link is not None and link not in found:
            found[link] = FeedLink(link, media, " ".join(title.split())[:1000] or None if title else None)
    return list(found.values()), names_hub


def feed_links_in_headers(link_headers: list[str], url: str) -> list[FeedLink]:
    """The ``Link: <…>; rel="alternate"; type="…feed type…"`` links of a response, in order, each URL once."""
    found: dict[str, FeedLink] = {}
    joiner = HrefJoiner(url, document_encoding(b"", "text/html; charset=utf-8"))
    for target, parameters in parse_link_headers(link_headers):
        rel = parameters.get("rel", "").lower().split()
        media = parameters.get("type", "").split(";")[0].strip().lower()
        if "alternate" not in rel or media not in FEED_TYPES:
            continue
        link = _resolved(joiner, target)
        if link is not None and link not in found:
            title = " ".join(parameters.get("title", "").split())[:1000] or None
            found[link] = FeedLink(link, media, title)
    return list(found.values())[:MAX_FEED_LINKS]


def hub_and_self_links(
    link_headers: list[str], body: bytes, url: str, content_type: str | None = None
) -> tuple[list[str], str | None]:
    """WebSub discovery (W3C WebSub 4): the hubs and the topic's own URL, from the ``Link`` headers, and only where
    they name none, from the body: a feed's atom:link (or JSON Feed ``hubs``/``feed_url``), else an HTML head's
    ``<link rel="hub"|"self">``. Hubs keep their order, each once; the self URL is the first found."""
    hubs, own = hub_and_self_in_headers(link_headers, url)
    if hubs and own:
        return hubs, own
    if looks_like_a_feed(body, content_type):
        try:
            feed = parse_feed(body, url, content_type, max_entries=0)  # hubs come before the entries
        except FeedError:
            return hubs, own
        return hubs or feed.hubs[:MAX_FEED_LINKS], own or feed.self_url
    found: dict[str, None] = {}
    for rel, href, _media, _title, page_joiner in _head_links(body, url, content_type):
        link = _resolved(page_joiner, href)
        if link is not None and "hub" in rel:
            found[link] = None
        if link is not None and "self" in rel and own is None:
            own = link
    return hubs or list(found)[:MAX_FEED_LINKS], own


def hub_and_self_in_headers(link_headers: list[str], url: str) -> tuple[list[str], str | None]:
    """The hubs and the self URL of a response's ``Link`` headers, resolved against its URL (RFC 8288)."""
    hubs: dict[str, None] = {}
    own: str | None = None
    joiner = HrefJoiner(url, document_encoding(b"", "text/html; charset=utf-8"))
    for target, parameters in parse_link_headers(link_headers):
        rel = parameters.get("rel", "").lower().split()
        link = _resolved(joiner, target)
        if link is None:
            continue
        if "hub" in rel:
            hubs[link] = None
        if "self" in rel and own is None:
            own = link
    return list(hubs)[:MAX_FEED_LINKS], own


_JSON_FEED_VERSION = re.compile(rb'"version"\s*:\s*"https?:\\?/\\?/jsonfeed\.org\\?/version\\?/')
# Possessive where a DOCTYPE's name and identifiers end: backtracking into them, each place in a run of white space
# was taken for their end and the rest of the run read again from there (64 KiB of spaces: 4.8 s).
_PROLOG = re.compile(r"(?:\s+|<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^\[>]*+(?:\[.*?\])?\s*>)*", re.DOTALL | re.IGNORECASE)
_ROOT = re.compile(r"<([A-Za-z_][\w.:-]*)([^>]*)")


def looks_like_a_feed(body: bytes, content_type: str | None = None) -> bool:
    """Whether ``body`` is a feed by its content (not its Content-Type, which feeds get wrong): an ``rss``, RSS 1.0
    ``rdf:RDF`` or Atom ``feed`` root element, or a JSON object with a JSON Feed ``version``."""
    start = body_start(body)
    if start == b"{":
        return _JSON_FEED_VERSION.search(body) is not None
    if start != b"<":
        return False
    head = body[:SNIFF_BYTES]
    encoding = document_encoding(head, content_type)
    text = decode(head, encoding) if encoding.name.startswith("utf-16") else head.decode("latin-1")
    text = text.lstrip("\ufeff\xef\xbb\xbf")
    prolog = _PROLOG.match(text)
    root = _ROOT.match(text, prolog.end() if prolog else 0)
    if root is None:
        return False
    local = root.group(1).rpartition(":")[2].lower()
    if local == "rss":
        return True
    if local == "feed":
        return "xmlns" not in root.group(2) or "/Atom" in root.group(2) or "purl.org/atom/ns#" in root.group(2)
    if local == "rdf":
        return "purl.org/rss/1.0/" in text or "my.netscape.com/rdf/simple/0.9/" in text
    return False


def _head_links(
    body: bytes, url: str, content_type: str | None
) -> list[tuple[list[str], str, str, str | None, HrefJoiner]]:
    """``(rel tokens, href, media type, title, joiner)`` of each ``<link rel href>`` in the page's head."""
    encoding = document_encoding(body, content_type)
    tree = LexborHTMLParser(decode(body, encoding))
    head = tree.head
    if head is None:
        return []
    base: str | None = url
    base_node = tree.css_first("base[href]")
    if base_node is not None:
        base = resolve_base(url, base_node.attrs.get("href") or "")
        if base is not None and base.startswith(_REFUSED_BASE_SCHEMES):
            base = url
    joiner = HrefJoiner(base, encoding)
    links = []
    for node in head.css("link[rel][href]")[: MAX_FEED_LINKS * 10]:
        attributes = node.attrs
        rel = (attributes.get("rel") or "").lower().split()
        media = (attributes.get("type") or "").split(";")[0].strip().lower()
        links.append((rel, attributes.get("href") or "", media, attributes.get("title"), joiner))
    return links
