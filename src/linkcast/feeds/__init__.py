"""Feeds: RSS, Atom and JSON Feed read with no I/O, discovery in pages and headers, OPML lists.

API::

    parse_feed(body, url, content_type=None, *, max_entries=1000, limits=None) -> ParsedFeed   # FeedError
    feed_links_in_html(body, url, content_type) -> list[FeedLink]
    feed_links_in_headers(link_headers, url) -> list[FeedLink]
    looks_like_a_feed(body, content_type) -> bool
    hub_and_self_links(link_headers, body, url, content_type) -> tuple[list[str], str | None]
    parse_opml(body) -> list[OpmlFeed]; read_opml(body) -> OpmlDocument; export_opml(feeds, title) -> bytes
"""

from __future__ import annotations

from linkcast.feeds.discovery import (
    FeedLink,
    feed_links_in_headers,
    feed_links_in_html,
    hub_and_self_links,
    looks_like_a_feed,
)
from linkcast.feeds.model import FeedEntry, FeedLimits, ParsedFeed
from linkcast.feeds.opml import OpmlDocument, OpmlError, OpmlFeed, export_opml, parse_opml, read_opml
from linkcast.feeds.parse import FeedError, parse_feed

__all__ = [
    "FeedEntry", "FeedError", "FeedLimits", "FeedLink", "OpmlDocument", "OpmlError", "OpmlFeed", "ParsedFeed",
    "export_opml", "feed_links_in_headers", "feed_links_in_html", "hub_and_self_links", "looks_like_a_feed",
    "parse_feed", "parse_opml", "read_opml",
]  # fmt: skip
