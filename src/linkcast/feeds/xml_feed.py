"""RSS 0.90-2.0, RSS 1.0 (RDF), Atom 0.3 and 1.0 read from XML: one pass of expat callbacks, every field bounded.

Elements are known by namespace and lower-cased local name (``pubdate``, ``content:encoded``, ``atom:link``), so a
feed mixing vocabularies (atom:link in RSS, dc:creator in Atom) reads the same whichever it started from. A field is
read only at its place: an RSS ``<image><title>`` is not the channel's title. ``xml:base`` is followed on every
element (XML Base: a relative base resolves against its parent's, the document's is the feed URL), and each URL read
resolves against the base in scope where it was written. Reading stops at the entry past ``max_entries``.
"""

from __future__ import annotations

import time

from linkcast.feeds.capture import BaseResolver, Capture
from linkcast.feeds.entries import Content, LinkBudget, TextKind, finish_entry, plain, resolve_link
from linkcast.feeds.model import FeedEntry, FeedLimits, ParsedFeed
from linkcast.feeds.safe_xml import Namespaces, XmlRefused, entity_text, feed_parser, safe_parser, xml_text
from linkcast.feeds.skips import MAX_SKIP_ELEMENTS, skip_mask
from linkcast.feeds.syndication import ttl_seconds
from linkcast.feeds.vocabulary import (
    ATOM_03,
    ENTRY_FIELDS,
    ENTRY_PARENTS,
    FEED_ELEMENTS,
    FEED_FIELDS,
    MAX_URL_CHARS,
    RSS_090,
    RSS_10,
    RSS_VERSIONS,
    SHORT,
    TITLES,
    atom_kind,
)
from linkcast.feeds.xml_fields import Fields, entry_draft

MAX_AUTHORS = 20  # an entry's authors kept (joined, and cut to max_text_chars, in its author field)
# The channel's <skipHours> holds <hour> elements, its <skipDays> <day> ones (feeds.skips).
SKIP_LISTS = {"skiphours": "hour", "skipdays": "day"}


class _Stop(Exception):
    """Reading ends early, on purpose: the entry past ``max_entries`` started."""


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
        self.resolver = BaseResolver()
        self.feed = Fields()
        self.entry: Fields | None = None
        self.entry_depth = 0
        self.author: list[str] | None = None  # atom:name / atom:email of the author being read
        self.capture: Capture | None = None
        self.entries: list[FeedEntry] = []
        self.links = LinkBudget(limits.max_links_bytes)  # of all the entries
        self.read = 0
        self.truncated = False
        self.skips: list[tuple[str, str]] = []  # the channel's <hour> and <day> values
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
            base = self.resolver.resolve(base, attributes["xml:base"].strip()) or base
        self.bases.append(base)
        if self.capture is not None:
            self.path.append("")
            self.capture.start(name, attributes, base, self.resolver)
            return
        key = self._key(name)
        parent = self.path[-1] if self.path else ""
        self.path.append(key)
        if depth == 1:
            self._root(key, attributes)
        elif key in ("item", "atom:entry") and self.entry is None and parent in ENTRY_PARENTS:
            self._start_entry(attributes, base, depth)
        elif self.entry is not None and depth == self.entry_depth + 1:
            self._child(self.entry, key, attributes, base, depth, ENTRY_FIELDS)
        elif self.entry is None and parent in FEED_ELEMENTS:
            self._child(self.feed, key, attributes, base, depth, FEED_FIELDS)
        elif self.author is not None and parent == "atom:author" and key in ("atom:name", "atom:email"):
            self._capture(key, "text", depth, base, self.limits.max_text_chars, markup=False, hashed=False)
        elif self.entry is None and SKIP_LISTS.get(parent) == key and self.path[-3] == "channel":
            self._capture(key, "text", depth, base, 16, markup=False, hashed=False)

    def _key(self, name: str) -> str:
        key = self.keys.get(name)
        if key is None:
            key = self.keys[name] = self._resolve_key(name)
        return key

    def _resolve_key(self, name: str) -> str:
        uri, local = self.namespaces.resolve(name)
        short = SHORT.get(uri, "{" + uri + "}")
        if not short and self.atom_without_namespace:
            short = "atom"
        return f"{short}:{local.lower()}" if short else local.lower()

    def _root(self, key: str, attributes: dict[str, str]) -> None:
        if key == "rss":
            self.kind = "rss"
            self.version = RSS_VERSIONS.get(attributes.get("version", "").strip(), "rss")
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
        self.entry = Fields()
        self.entry_depth = depth
        about = next((v for k, v in attributes.items() if k.rpartition(":")[2] == "about"), None)
        if about is not None:
            self.entry.about = (about, base)

    def _child(
        self, fields: Fields, key: str, attributes: dict[str, str], base: str, depth: int, known: dict[str, str]
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
            kind = atom_kind(attributes)
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
            self._capture(key, "text", depth, base, MAX_URL_CHARS + 1, markup=False, hashed=False)
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
                if self.author and len(target.authors) < MAX_AUTHORS:
                    target.authors.append(self.author[0])
                self.author = None
        self.path.pop()
        self.bases.pop()
        if self.namespaces.leave():
            self.keys.clear()

    def _store(self, capture: Capture) -> None:
        slot = capture.slot
        if slot in ("atom:name", "atom:email"):
            # The author is its last name, else its first email: that one alone is kept. A list of every one (each
            # name inserted at its head) was quadratic: 3 MB of <name> in one <author> took 7 s.
            if self.author is not None and capture.value().strip() and (slot == "atom:name" or not self.author):
                self.author[:] = [capture.value()]
            return
        if slot in ("hour", "day"):  # only captured as a skipHours or skipDays value
            if len(self.skips) < MAX_SKIP_ELEMENTS:
                self.skips.append((slot, capture.value()))
            return
        target = self.entry if self.entry is not None else self.feed
        if slot in ("author", "dc:creator"):
            if len(target.authors) < MAX_AUTHORS:
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
        authors = self.feed.authors if self.kind == "atom" else []  # Atom entries inherit the feed's author
        entry = finish_entry(entry_draft(fields, authors, self.limits), self.limits, self.links)
        if entry is not None:
            self.entries.append(entry)
        self.check_time()

    def result(self) -> ParsedFeed:
        feed, limits = self.feed, self.limits
        site = feed.texts.get("link")
        alternate = feed.link("alternate")
        site_link = resolve_link(site.raw, site.base) if site is not None else None
        if site_link is None and alternate is not None:
            site_link = resolve_link(*alternate)
        own = feed.link("self")
        hubs = [resolve_link(href, base) for rel, href, base in feed.links if rel == "hub"]
        title_content = feed.first(TITLES)
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
            skip_mask=skip_mask(self.skips),
        )
