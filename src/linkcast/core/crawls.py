"""A crawl as the store keeps it and as clients see it: its record and counts, what one of its URLs came to, and
the events of its stream (``page``, ``skipped``, ``crawl.accepted``, ``crawl.progress``, ``crawl.done``).

Every event of a crawl has ``request_id`` = the crawl id, so ``?request_id=<crawl id>`` filters a crawl on the
WebSocket and ``since`` replays it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from linkcast.core.events import EventBody, make_body

# Crawl states.
CRAWL_QUEUED = "queued"
CRAWL_RUNNING = "running"
CRAWL_DONE = "done"
CRAWL_CANCELLED = "cancelled"
CRAWL_ENDED = frozenset({CRAWL_DONE, CRAWL_CANCELLED})

# Event types of a crawl's stream.
PAGE = "page"
SKIPPED = "skipped"
CRAWL_ACCEPTED = "crawl.accepted"
CRAWL_PROGRESS = "crawl.progress"
CRAWL_DONE_EVENT = "crawl.done"

# Why a URL was not fetched. ``robots`` and ``duplicate`` (a redirect into a URL the crawl has visited) have an event of
# their own (a ``skipped`` event, one per URL); the others are only counted.
SKIP_REASONS = ("robots", "scope", "pattern", "depth", "page_limit", "duplicate")
# The least time between two ``crawl.progress`` events of one crawl.
PROGRESS_INTERVAL_SECONDS = 1.0


def seen_key(url: str) -> bytes:
    """A URL's entry in a crawl's visited set: 12 bytes of its BLAKE2b digest, whatever its length (a 2 MiB URL
    costs what a short one does; two URLs of one crawl share a key with odds of about 2^-96 per pair)."""
    return hashlib.blake2b(url.encode("utf-8", "surrogatepass"), digest_size=12).digest()


@dataclass
class CrawlCounts:
    """``queued``: admitted and not yet ended (waiting or being fetched)."""

    fetched: int = 0
    failed: int = 0
    queued: int = 0
    skipped: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SKIP_REASONS, 0))

    def to_dict(self) -> dict[str, Any]:
        return {"fetched": self.fetched, "failed": self.failed, "queued": self.queued, "skipped": dict(self.skipped)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CrawlCounts:
        skipped = dict.fromkeys(SKIP_REASONS, 0) | dict(data.get("skipped", {}))
        return cls(data.get("fetched", 0), data.get("failed", 0), data.get("queued", 0), skipped)


@dataclass
class CrawlRecord:
    crawl_id: str
    spec: dict[str, Any]  # the canonical form of the options (crawl.spec.CrawlSpec.to_json)
    state: str = CRAWL_QUEUED
    created_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    counts: CrawlCounts = field(default_factory=CrawlCounts)
    admitted: int = 0  # URLs ever admitted to the frontier: bounded by max_pages
    given_back: int = 0  # rooms given back by URLs admitted but not fetched: bounded by max_pages too

    def to_dict(self) -> dict[str, Any]:
        return {
            "crawl_id": self.crawl_id,
            "state": self.state,
            "created_at": self.created_at,
            "started_at": self.started_at,
            "finished_at": self.finished_at,
            "counts": self.counts.to_dict(),
            "admitted": self.admitted,
            "options": self.spec,
        }


@dataclass(frozen=True, slots=True)
class Discovered:
    """A link to admit to a crawl's frontier: its URL (fragment dropped), depth, and the page it was found on."""

    url: str
    depth: int
    referrer: str | None


@dataclass
class CrawlOutcome:
    """What one URL of a crawl came to, handed to the store in one piece: the event for it (``page`` or
    ``skipped``), which count it adds to, the links to admit, and the links the worker skipped, by reason."""

    body: EventBody
    result: str  # "fetched", "failed" or a skip reason
    links: list[Discovered] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)
    final_url: str | None = None  # after redirects, if elsewhere: also recorded as visited

    def with_links(self, links: list[Discovered]) -> CrawlOutcome:
        """This outcome with ``links`` to admit too (a seed's sitemap pages, whatever became of the seed)."""
        return replace(self, links=self.links + links) if links else self


def page_body(crawl_id: str, url: str, *, depth: int, referrer: str | None, **fields: Any) -> EventBody:
    """A fetched URL's event: ``final_url``, ``status_code``, ``links`` (and ``links_truncated``) or ``error``."""
    return make_body(PAGE, crawl_id, url, depth=depth, referrer=referrer, **fields)


def skipped_body(crawl_id: str, url: str, *, depth: int, referrer: str | None, reason: str) -> EventBody:
    return make_body(SKIPPED, crawl_id, url, depth=depth, referrer=referrer, reason=reason)


def crawl_event(event_type: str, record: CrawlRecord, **fields: Any) -> EventBody:
    """``crawl.accepted``, ``crawl.progress`` or ``crawl.done``: the crawl's state and counts."""
    payload = {"type": event_type, "request_id": record.crawl_id, "state": record.state, **fields}
    payload["counts"] = record.counts.to_dict()
    return EventBody(event_type, record.crawl_id, orjson.dumps(payload))


def accepted_event(record: CrawlRecord) -> EventBody:
    return crawl_event(CRAWL_ACCEPTED, record, options=record.spec)


def done_event(record: CrawlRecord) -> EventBody:
    return crawl_event(
        CRAWL_DONE_EVENT,
        record,
        cancelled=record.state == CRAWL_CANCELLED,
        started_at=record.started_at,
        finished_at=record.finished_at,
    )
