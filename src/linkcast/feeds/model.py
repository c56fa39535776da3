"""What a feed is once read: its entries and the few facts about it that polling and WebSub need.

Every string here is bounded (see ``FeedLimits``), every URL is absolute and http(s), every date is UTC ISO 8601:
what the poller stores and what clients receive can be no bigger, and no stranger, than these types allow.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from linkcast.core.links import LinkLimits


@dataclass(frozen=True, slots=True)
class FeedEntry:
    """One entry (RSS item, Atom entry, JSON Feed item).

    ``entry_id`` is what says two fetches hold the same entry: its id or guid, else its link, else a hash of its
    title, date and content (``sha256:…``); an id longer than ``FeedLimits.max_id_chars`` is kept as the hash of the
    whole id, so it stays stable and small. ``fingerprint`` changes when the entry does (its updated date or its
    content), so a known entry that changed can be told from one that did not.
    """

    entry_id: str
    title: str | None
    link: str | None  # absolute, http(s), resolved against the link's xml:base or the feed URL
    published: str | None  # "2026-12-06T15:04:30Z"; None when absent or nonsense
    updated: str | None
    author: str | None
    summary: str | None  # plain text, at most FeedLimits.max_summary_chars
    links: list[str]  # the links of the content (or summary), browser-exact, within FeedLimits.links
    fingerprint: str  # "sha256:…" of the updated date and the content
    links_truncated: bool = False  # the content had more links than FeedLimits.links allows


@dataclass(frozen=True, slots=True)
class ParsedFeed:
    """A feed document read: its format, what it says about itself, and its first ``max_entries`` entries."""

    kind: str  # "rss" | "atom" | "json"
    version: str  # "rss2.0", "rss1.0", "rss0.90"-"rss0.94", "rss" (no version), "atom1.0", "atom0.3", "json1.0"...
    title: str | None
    site_link: str | None  # the site the feed is about (absolute)
    self_url: str | None  # atom:link rel="self" (Atom, and RSS with atom:link), JSON Feed feed_url
    hubs: list[str]  # WebSub hubs: atom:link rel="hub", JSON Feed "hubs"
    ttl_seconds: float | None  # RSS <ttl> (minutes), else sy:updatePeriod / sy:updateFrequency
    entries: list[FeedEntry]  # document order
    entries_truncated: bool  # the feed had more than max_entries entries: those past it were not read
    skip_mask: int = 0  # the hours and days the feed asks not to be polled in (feeds.skips): RSS skipHours, skipDays


MAX_ENTRIES = 1000


@dataclass(frozen=True, slots=True)
class FeedLimits:
    """How much of a feed is read and kept. Each bound keeps a hostile feed's cost near a normal one's."""

    max_seconds: float = 10.0  # the whole parse; past it: FeedError("too_complex")
    max_depth: int = 256  # element (or JSON) nesting; real feeds nest about 10 deep, XHTML content a few more
    # Values in a JSON document (objects, arrays, and each element or member after a first). A JSON Feed is read
    # whole, and ``{},`` (3 bytes) is a dict of some 64: 10 MB of them held ~290 MB; a real feed of 10 MB holds
    # some 100,000 values. XML needs no such bound: it is read as a stream, up to ``max_entries``.
    max_json_values: int = 250_000
    max_text_chars: int = 1024  # titles and authors, after whitespace is collapsed
    max_id_chars: int = 2048  # a longer id or guid is kept as "sha256:" of all of it
    max_summary_chars: int = 1000
    max_content_chars: int = 1024 * 1024  # content kept for its links and summary; the fingerprint hashes all of it
    max_hubs: int = 10
    links: LinkLimits = field(default_factory=lambda: LinkLimits(max_links=1000, max_bytes=256 * 1024))
    # The links of all of a document's entries, in bytes of JSON, as a page's result is bounded (--max-result-bytes):
    # 1,000 entries of 256 KiB each were 256 MB of events from one poll of a feed of 28 KB gzipped (short relative
    # links under a long URL). Past it, entries keep everything but their links (links_truncated).
    max_links_bytes: int = 8 * 1024 * 1024
