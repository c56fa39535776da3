"""A watched feed as the store keeps it and as clients see it: its record, what one poll came to, and the events of
its stream (``feed.accepted``, ``feed.entry``, ``feed.moved``, ``feed.gone``, ``feed.error``, ``feed.removed``).

Every event of a feed has ``request_id`` = the feed id, so ``?request_id=<feed id>`` follows a feed on the WebSocket.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import orjson

from linkcast.core.events import EventBody

# Feed states.
FEED_ACTIVE = "active"
FEED_ERROR = "error"
FEED_GONE = "gone"

# Event types of a feed's stream.
FEED_ACCEPTED = "feed.accepted"
FEED_ENTRY = "feed.entry"
FEED_MOVED = "feed.moved"
FEED_GONE_EVENT = "feed.gone"
FEED_ERROR_EVENT = "feed.error"
FEED_REMOVED = "feed.removed"

# What a feed watches: a feed document, or an HTML page whose new links are its entries.
WATCH_FEED = "feed"
WATCH_LINKS = "links"
# The key of a feed's stored spec that says it watches the page's links though it was asked for a feed: the page
# names no feed but a WebSub hub (a topic may be any document, W3C WebSub 1), so the page itself is what is pushed.
WATCHING = "watching"


def entry_key(entry_id: str) -> bytes:
    """An entry's place in its feed's seen-set: 16 bytes of its id's BLAKE2b digest, however long the id."""
    return hashlib.blake2b(entry_id.encode("utf-8", "surrogatepass"), digest_size=16).digest()


@dataclass
class FeedRecord:
    feed_id: str
    spec: dict[str, Any]  # what was asked for: {"url", "follow", "watch"} (the URL as given)
    url: str  # the feed's URL now (discovered, and moved by permanent redirects)
    state: str = FEED_ACTIVE
    title: str | None = None
    site_link: str | None = None
    created_at: float = 0.0
    last_poll: float | None = None
    next_poll: float | None = None
    last_status: int | None = None
    last_error: dict[str, str] | None = None
    etag: str | None = None
    last_modified: str | None = None
    failures: int = 0  # polls failed in a row: the back-off's exponent
    polls: int = 0  # successful polls (200 or 304)
    entry_count: int = 0
    interval: float | None = None  # the interval the feed last asked for (before jitter): the base of back-offs
    skip_mask: int = 0  # the hours and days the feed last asked not to be polled in (feeds.skips)

    @property
    def watch(self) -> str:
        """What is read at each poll: ``WATCH_FEED`` or ``WATCH_LINKS`` (asked for, or chosen: ``WATCHING``)."""
        return str(self.spec.get(WATCHING) or self.spec.get("watch", WATCH_FEED))

    @property
    def asked(self) -> dict[str, Any]:
        """The spec as the client sent it (a repeat of it is the same request)."""
        return {name: value for name, value in self.spec.items() if name != WATCHING}

    def to_dict(self) -> dict[str, Any]:
        return {
            "feed_id": self.feed_id,
            "url": self.url,
            "state": self.state,
            "title": self.title,
            "site_link": self.site_link,
            "follow": bool(self.spec.get("follow")),
            "watch": self.watch,
            "created_at": self.created_at,
            "last_poll": self.last_poll,
            "next_poll": self.next_poll,
            "last_status": self.last_status,
            "last_error": self.last_error,
            "entry_count": self.entry_count,
        }

    def columns(self) -> dict[str, Any]:
        """The record as the store's columns (``spec`` as JSON text, ``last_error`` too)."""
        return {
            "feed_id": self.feed_id,
            "spec": orjson.dumps(self.spec).decode(),
            "url": self.url,
            "state": self.state,
            "title": self.title,
            "site_link": self.site_link,
            "created_at": self.created_at,
            "last_poll": self.last_poll,
            "next_poll": self.next_poll,
            "last_status": self.last_status,
            "last_error": orjson.dumps(self.last_error).decode() if self.last_error else None,
            "etag": self.etag,
            "last_modified": self.last_modified,
            "failures": self.failures,
            "polls": self.polls,
            "entry_count": self.entry_count,
            "interval": self.interval,
            "skip_mask": self.skip_mask,
        }

    @classmethod
    def from_columns(cls, values: dict[str, Any]) -> FeedRecord:
        def number(name: str) -> float | None:
            value = values.get(name)
            return float(value) if value not in (None, "") else None

        def text(name: str) -> str | None:
            value = values.get(name)
            return None if value in (None, "") else str(value)

        last_error = text("last_error")
        status = text("last_status")
        return cls(
            feed_id=str(values["feed_id"]),
            spec=orjson.loads(values["spec"]),
            url=str(values["url"]),
            state=str(values["state"]),
            title=text("title"),
            site_link=text("site_link"),
            created_at=number("created_at") or 0.0,
            last_poll=number("last_poll"),
            next_poll=number("next_poll"),
            last_status=int(status) if status else None,
            last_error=orjson.loads(last_error) if last_error else None,
            etag=text("etag"),
            last_modified=text("last_modified"),
            failures=int(values.get("failures") or 0),
            polls=int(values.get("polls") or 0),
            entry_count=int(values.get("entry_count") or 0),
            skip_mask=int(values.get("skip_mask") or 0),
            interval=number("interval"),
        )


@dataclass
class PolledEntry:
    """An entry as a poll found it: its identity, its fingerprint (what makes it "changed"), and its event fields."""

    entry_id: str
    fingerprint: str
    fields: dict[str, Any]  # title, link, published, updated, author, summary, links


@dataclass
class FeedPoll:
    """What one poll of a feed came to, handed to the store in one piece.

    ``record`` is the feed's record as the poll leaves it (validators, URL, state, times, failures), ``entries`` what
    the feed holds now (new and known ones alike: the store tells them apart), ``events`` the poll's own events
    (``feed.moved``, ``feed.gone``, ``feed.error``) and ``follow`` whether new entries' pages are fetched.
    """

    record: FeedRecord
    entries: list[PolledEntry] = field(default_factory=list)
    events: list[EventBody] = field(default_factory=list)


def feed_event(event_type: str, feed_id: str, /, **fields: Any) -> EventBody:
    payload = {"type": event_type, "request_id": feed_id, **fields}
    return EventBody(event_type, feed_id, orjson.dumps(payload))


def entry_event(feed_id: str, entry: PolledEntry, *, backlog: bool, changed: bool) -> EventBody:
    """``feed.entry``: the entry's fields, ``"backlog": true`` on a feed's first poll, ``"changed": true`` for a
    known entry whose content or date changed."""
    flags = {"backlog": True} if backlog else {}
    if changed:
        flags["changed"] = True
    return feed_event(FEED_ENTRY, feed_id, entry_id=entry.entry_id, **entry.fields, **flags)
