"""RSS 0.90-2.0, RSS 1.0 (RDF), Atom 0.3 and 1.0 read from XML: one pass of expat callbacks, every field bounded.

Elements are known by namespace and lower-cased local name (``pubdate``, ``content:encoded``, ``atom:link``), so a
feed mixing vocabularies (atom:link in RSS, dc:creator in Atom) reads the same whichever it started from. A field is
read only at its place: an RSS ``<image><title>`` is not the channel's title. ``xml:base`` is followed on every
element (XML Base: a relative base resolves against its parent's, the document's is the feed URL), and each URL read
resolves against the base in scope where it was written. Reading stops at the entry past ``max_entries``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from linkcast.core.resolution import resolve_base
from linkcast.feeds.capture import Capture
from linkcast.feeds.entries import Content, EntryDraft, TextKind, bounded_id, finish_entry, plain, resolve_link
from linkcast.feeds.model import FeedEntry, FeedLimits, ParsedFeed
from linkcast.feeds.safe_xml import Namespaces, XmlRefused, entity_text, feed_parser, safe_parser, xml_text
from linkcast.feeds.syndication import ttl_seconds

ATOM_10 = "http://www.w3.org/2005/Atom"
ATOM_03 = "http://purl.org/atom/ns#"
RSS_10 = "http://purl.org/rss/1.0/"
RSS_090 = "http://my.netscape.com/rdf/simple/0.9/"
_SHORT = {
    "": "", RSS_10: "", RSS_090: "", "http://backend.userland.com/rss2": "", "http://backend.userland.com/rss": "",
    "http://backend.userland.com/rss2.1": "", "http://blogs.law.harvard.edu/tech/rss": "",
    ATOM_10: "atom", ATOM_03: "atom",
    "http://purl.org/dc/elements/1.1/": "dc", "http://purl.org/dc/terms/": "dcterms",
    "http://purl.org/rss/1.0/modules/content/": "content", "http://purl.org/rss/1.0/modules/syndication/": "sy",
    "http://www.w3.org/1999/02/22-rdf-syntax-ns#": "rdf", "http://www.w3.org/1999/xhtml": "xhtml",
}  # fmt: skip
_RSS_VERSIONS = {"2.0": "rss2.0", "2.0.1": "rss2.0", "2.00": "rss2.0", "0.91": "rss0.91", "0.92": "rss0.92",
                 "0.93": "rss0.93", "0.94": "rss0.94", "0.90": "rss0.90", "1.0": "rss1.0"}  # fmt: skip
_ENTRY_PARENTS = frozenset({"channel", "rss", "rdf:rdf", "atom:feed"})
_FEED_ELEMENTS = frozenset({"channel", "atom:feed"})
_MAX_URL_CHARS = 8 * 1024

# Entry children read as text: where they go, how their text reads ("id", "url", "date" and "author" are text too).
_ENTRY_FIELDS = {
    "title": "maybe_html", "atom:title": "atom", "dc:title": "maybe_html",
    "guid": "id", "atom:id": "id", "link": "url",
    "pubdate": "date", "atom:published": "date", "atom:issued": "date", "dc:date": "date", "dcterms:issued": "date",
    "dcterms:created": "date", "atom:created": "date", "atom:updated": "date", "atom:modified": "date",
    "dcterms:modified": "date", "author": "author", "dc:creator": "author",
    "description": "html", "atom:summary": "atom", "dc:description": "maybe_html",
    "content:encoded": "html", "atom:content": "atom", "xhtml:body": "html",
}  # fmt: skip
_FEED_FIELDS = {
    "title": "maybe_html", "atom:title": "atom", "dc:title": "maybe_html", "link": "url", "ttl": "short",
    "sy:updateperiod": "short", "sy:updatefrequency": "short",
}  # fmt: skip
_TITLES = ("title", "atom:title", "dc:title")
_IDS = ("guid", "atom:id", "rdf:about")
_PUBLISHED = (
    "pubdate", "atom:published", "atom:issued", "dc:date", "dcterms:issued", "dcterms:created", "atom:created",
)  # fmt: skip
_UPDATED = ("atom:updated", "atom:modified", "dcterms:modified")
_SUMMARIES = ("description", "atom:summary", "dc:description")
_CONTENTS = ("content:encoded", "atom:content", "xhtml:body")


class _Stop(Exception):
    """Reading ends early, on purpose: the entry past ``max_entries`` started."""


@dataclass(slots=True)
class _Fields:
    """What one feed or entry element held: captured texts by key, atom:links, authors (Atom's, or RSS's)."""

    texts: dict[str, Content] = field(default_factory=dict)
    overflowed: set[str] = field(default_factory=set)
    links: list[tuple[str, str, str]] = field(default_factory=list)  # (rel, href, base)
    authors: list[str] = field(default_factory=list)
    about: tuple[str, str] | None = None  # rdf:about and its base (RSS 1.0 items)
    guid_is_permalink: bool = True  # <guid isPermaLink="false"> is no link

    def first(self, keys: tuple[str, ...]) -> Content | None:
        return next((self.texts[key] for key in keys if key in self.texts), None)

    def raw(self, keys: tuple[str, ...]) -> str | None:
        found = self.first(keys)
        return found.raw if found is not None else None

    def link(self, rel: str) -> tuple[str, str] | None:
        return next(((href, base) for link_rel, href, base in self.links if link_rel == rel), None)


def read_xml_feed(body: bytes, url: str, content_type: str | None, max_entries: int, limits: FeedLimits) -> ParsedFeed:
    """Read an RSS or Atom document; ``XmlRefused`` says why one is refused."""
    deadline = time.monotonic() + limits.max_seconds
    reader = _Reader(url, max_entries, limits, deadline)
    try:
        feed_parser(reader.parser, xml_text(body, content_type), deadline, reader.check_time)
    except _Stop:
        pass
    except XmlRefused as refused:
        if refused.code == "invalid" and reader.kind is None:
            raise XmlRefused("not_a_feed", "not a feed: " + refused.message) from None
        raise
    if reader.kind is None:
        raise XmlRefused("not_a_feed", "not a feed: the document has no root element")
    return reader.result()


class _Reader:
    def __init__(self, url: str, max_entries: int, limits: FeedLimits, deadline: float) -> None:
        self.url, self.max_entries, self.limits, self.deadline = url, max_entries, limits, deadline
        self.kind: str | None = None
        self.version = ""
        self.atom_without_namespace = False
        self.namespaces = Namespaces()
        self.keys: dict[str, str] = {}  # element name -> key, while the namespaces in scope stay the same
        self.path: list[str] = []  # element keys, root first
        self.bases: list[str] = [url]
        self.feed = _Fields()
        self.entry: _Fields | None = None
        self.entry_depth = 0
        self.author: list[str] | None = None  # atom:name / atom:email of the author being read
        self.capture: Capture | None = None
        self.entries: list[FeedEntry] = []
        self.read = 0
        self.truncated = False
        parser = safe_parser()
        parser.StartElementHandler = self._start
        parser.EndElementHandler = self._end
        parser.CharacterDataHandler = self._characters
        parser.SkippedEntityHandler = self._skipped_entity
        self.parser = parser

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise XmlRefused("too_complex", f"reading the feed took over {self.limits.max_seconds:g} s")

    def _start(self, name: str, attributes: dict[str, str]) -> None:
        depth = len(self.path) + 1
        if depth > self.limits.max_depth:
            raise XmlRefused("too_complex", f"elements nested more than {self.limits.max_depth} deep")
        if self.namespaces.enter(attributes):
            self.keys.clear()
        base = self.bases[-1]
        if "xml:base" in attributes:
            base = resolve_base(base, attributes["xml:base"].strip()) or base
        self.bases.append(base)
        if self.capture is not None:
            self.path.append("")
            self.capture.start(name, attributes, base)
            return
        key = self._key(name)
        parent = self.path[-1] if self.path else ""
        self.path.append(key)
        if depth == 1:
            self._root(key, attributes)
        elif key in ("item", "atom:entry") and self.entry is None and parent in _ENTRY_PARENTS:
            self._start_entry(attributes, base, depth)
        elif self.entry is not None and depth == self.entry_depth + 1:
            self._child(self.entry, key, attributes, base, depth, _ENTRY_FIELDS)
        elif self.entry is None and parent in _FEED_ELEMENTS:
            self._child(self.feed, key, attributes, base, depth, _FEED_FIELDS)
        elif self.author is not None and parent == "atom:author" and key in ("atom:name", "atom:email"):
            self._capture(key, "text", depth, base, self.limits.max_text_chars, markup=False, hashed=False)

    def _key(self, name: str) -> str:
        key = self.keys.get(name)
        if key is None:
            key = self.keys[name] = self._resolve_key(name)
        return key

    def _resolve_key(self, name: str) -> str:
        uri, local = self.namespaces.resolve(name)
        short = _SHORT.get(uri, "{" + uri + "}")
        if not short and self.atom_without_namespace:
            short = "atom"
        return f"{short}:{local.lower()}" if short else local.lower()

    def _root(self, key: str, attributes: dict[str, str]) -> None:
        if key == "rss":
            self.kind = "rss"
            self.version = _RSS_VERSIONS.get(attributes.get("version", "").strip(), "rss")
        elif key == "rdf:rdf":
            default = self.namespaces.resolve("channel")[0]
            declared = set(attributes.values())
            if default == RSS_090 or (default != RSS_10 and RSS_090 in declared):
                self.kind, self.version = "rss", "rss0.90"
            elif default == RSS_10 or RSS_10 in declared:
                self.kind, self.version = "rss", "rss1.0"
            else:
                raise XmlRefused("not_a_feed", "not a feed: an RDF document that is not RSS 1.0")
        elif key == "atom:feed" or key == "feed":
            self.kind = "atom"
            uri = self.namespaces.resolve("feed")[0]
            old = uri == ATOM_03 or (key == "feed" and attributes.get("version", "").strip() == "0.3")
            self.version = "atom0.3" if old else "atom1.0"
            if key == "feed":
                self.atom_without_namespace = True
                self.path[-1] = "atom:feed"
        else:
            raise XmlRefused("not_a_feed", f"not a feed: the document is a <{key}>")

    def _start_entry(self, attributes: dict[str, str], base: str, depth: int) -> None:
        if self.read >= self.max_entries:
            self.truncated = True
            raise _Stop()
        self.read += 1
        self.entry = _Fields()
        self.entry_depth = depth
        about = next((v for k, v in attributes.items() if k.rpartition(":")[2] == "about"), None)
        if about is not None:
            self.entry.about = (about, base)

    def _child(
        self, fields: _Fields, key: str, attributes: dict[str, str], base: str, depth: int, known: dict[str, str]
    ) -> None:
        if key == "atom:link":
            href = attributes.get("href")
            if href is not None and len(fields.links) < 100:
                rel = attributes.get("rel", "alternate").strip().lower() or "alternate"
                fields.links.append((rel, href, base))
            return
        if key == "atom:author":
            self.author = []
            return
        how = known.get(key)
        if how is None:
            return
        limits = self.limits
        if how == "atom":
            kind = _atom_kind(attributes)
            if kind is None:
                return
            content = key in ("atom:content", "atom:summary")
            limit = limits.max_content_chars if content else limits.max_text_chars * 4
            self._capture(key, kind, depth, base, limit, markup=kind == "html", hashed=content)
        elif how == "html":
            self._capture(key, "html", depth, base, limits.max_content_chars, markup=True, hashed=True)
        elif how == "id":
            self._capture(key, "text", depth, base, limits.max_id_chars + 1, markup=False, hashed=True)
        elif how == "url":
            self._capture(key, "text", depth, base, _MAX_URL_CHARS + 1, markup=False, hashed=False)
        elif how == "maybe_html":
            self._capture(key, "maybe_html", depth, base, limits.max_text_chars * 4, markup=False, hashed=False)
        else:  # date, author, short
            self._capture(key, "text", depth, base, limits.max_text_chars, markup=False, hashed=False)
        if key == "guid" and attributes.get("isPermaLink", "").strip().lower() == "false":
            fields.guid_is_permalink = False

    def _capture(self, slot: str, kind: str, depth: int, base: str, limit: int, *, markup: bool, hashed: bool) -> None:
        self.capture = Capture(slot, depth, limit, base=base, kind=kind, markup=markup, hashed=hashed)

    def _end(self, name: str) -> None:
        depth = len(self.path)
        capture = self.capture
        if capture is not None and depth > capture.depth:
            capture.end(name)
        elif capture is not None:
            self.capture = None
            self._store(capture)
        else:
            key = self.path[-1]
            if self.entry is not None and depth == self.entry_depth:
                self._end_entry()
            elif key == "atom:author" and self.author is not None:
                target = self.entry if self.entry is not None else self.feed
                if self.author:
                    target.authors.append(self.author[0])
                self.author = None
        self.path.pop()
        self.bases.pop()
        if self.namespaces.leave():
            self.keys.clear()

    def _store(self, capture: Capture) -> None:
        slot = capture.slot
        if slot in ("atom:name", "atom:email"):
            if self.author is not None and capture.value().strip():
                self.author.insert(0 if slot == "atom:name" else len(self.author), capture.value())
            return
        target = self.entry if self.entry is not None else self.feed
        if slot in ("author", "dc:creator"):
            target.authors.append(capture.value())
            return
        if slot in target.texts:
            return  # the first of a repeated element counts
        kind: TextKind = "html" if capture.kind == "html" else "maybe_html" if capture.kind == "maybe_html" else "text"
        target.texts[slot] = Content(capture.value(), kind, capture.base, capture.digest())
        if capture.overflowed:
            target.overflowed.add(slot)

    def _characters(self, data: str) -> None:
        if self.capture is not None:
            self.capture.text(data)

    def _skipped_entity(self, name: str, is_parameter: bool) -> None:
        if self.capture is not None and not is_parameter:
            self.capture.text(entity_text(name))

    def _end_entry(self) -> None:
        fields, self.entry = self.entry, None
        assert fields is not None
        entry = finish_entry(self._draft(fields), self.limits)
        if entry is not None:
            self.entries.append(entry)
        self.check_time()

    def _draft(self, fields: _Fields) -> EntryDraft:
        limits = self.limits
        id_key = next((key for key in _IDS[:2] if key in fields.texts), None)
        entry_id = None
        if id_key is not None:
            found = fields.texts[id_key]
            entry_id = bounded_id(found.raw, id_key in fields.overflowed, found.digest, limits)
        if entry_id is None and fields.about is not None:
            entry_id = bounded_id(fields.about[0], False, b"", limits)
        link = self._link(fields)
        authors = fields.authors or (self.feed.authors if self.kind == "atom" else [])
        return EntryDraft(
            entry_id=entry_id,
            title=fields.first(_TITLES),
            link=link,
            published=fields.raw(_PUBLISHED),
            updated=fields.raw(_UPDATED),
            authors=authors,
            summary=fields.first(_SUMMARIES),
            content=fields.first(_CONTENTS),
        )

    def _link(self, fields: _Fields) -> str | None:
        text = fields.texts.get("link")
        if text is not None and "link" not in fields.overflowed:
            found = resolve_link(text.raw, text.base)
            if found is not None:
                return found
        alternate = fields.link("alternate")
        if alternate is not None:
            found = resolve_link(*alternate)
            if found is not None:
                return found
        guid = fields.texts.get("guid")
        if guid is not None and fields.guid_is_permalink and "guid" not in fields.overflowed:
            candidate = guid.raw.strip()
            if candidate[:8].lower().startswith(("http://", "https://")):
                return resolve_link(candidate, guid.base)
        return None

    def result(self) -> ParsedFeed:
        feed, limits = self.feed, self.limits
        site = feed.texts.get("link")
        alternate = feed.link("alternate")
        site_link = resolve_link(site.raw, site.base) if site is not None else None
        if site_link is None and alternate is not None:
            site_link = resolve_link(*alternate)
        own = feed.link("self")
        hubs = [resolve_link(href, base) for rel, href, base in feed.links if rel == "hub"]
        title_content = feed.first(_TITLES)
        return ParsedFeed(
            kind=self.kind or "rss",
            version=self.version,
            title=plain(title_content, limits.max_text_chars),
            site_link=site_link,
            self_url=resolve_link(*own) if own is not None else None,
            hubs=list(dict.fromkeys(hub for hub in hubs if hub))[: limits.max_hubs],
            ttl_seconds=ttl_seconds(
                feed.raw(("ttl",)), feed.raw(("sy:updateperiod",)), feed.raw(("sy:updatefrequency",))
            ),
            entries=self.entries,
            entries_truncated=self.truncated,
        )


def _atom_kind(attributes: dict[str, str]) -> str | None:
    """How an Atom text construct reads: "text", or "html" (escaped or inline XHTML); None for base64 content."""
    media = attributes.get("type", "").strip().lower()
    mode = attributes.get("mode", "").strip().lower()
    if mode == "base64":
        return None
    if media in ("", "text", "text/plain"):
        return "text"
    if media in ("html", "xhtml", "text/html", "application/xhtml+xml"):
        return "html"
    if media.startswith("text/"):
        return "text"
    if media.endswith(("/xml", "+xml")):
        return "html"
    return None  # other media types are base64 (RFC 4287 4.1.3.3): nothing to read as text
