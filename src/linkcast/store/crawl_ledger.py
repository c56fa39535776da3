"""What happens in the store when one URL of a crawl ends, written once for the backends that run Python inside
their transaction (memory, SQLite; Redis says the same in Lua, ``redis/crawl_scripts.py``):

1. A crawl that has ended (cancelled, done) takes nothing more: the job just ends.
2. A URL already recorded (a second delivery of a job whose first worker died after recording it) is not recorded
   again: each ``page`` or ``skipped`` event once.
3. The URL's event is appended and kept in the crawl's pages; its count goes up.
4. Each discovered link is admitted unless already seen (``duplicate``) or the crawl has admitted ``max_pages`` URLs
   (``page_limit``): admitted links join the visited set and the frontier (fair-scheduled jobs by host).
5. ``crawl.progress`` at most once a second; once nothing is queued or running, ``crawl.done``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from linkcast.core.crawls import (
    CRAWL_DONE,
    CRAWL_ENDED,
    CRAWL_PROGRESS,
    PROGRESS_INTERVAL_SECONDS,
    CrawlOutcome,
    CrawlRecord,
    Discovered,
    crawl_event,
    done_event,
    seen_key,
)
from linkcast.core.events import EventBody


class CrawlBook(Protocol):
    """One crawl's rows, inside the backend's transaction."""

    def add_seen(self, key: bytes) -> bool:
        """Add ``key`` to the visited set; False if it was there."""

    def add_seen_each(self, keys: Sequence[bytes]) -> list[bool]:
        """Add each key to the visited set; for each, whether it was new (a key given twice is new the first time
        only). A page's links go in at once: one call instead of one per link."""

    def record_page(self, key: bytes, body: EventBody) -> bool:
        """Keep the URL's event in the crawl's pages (and append it to the log); False if it is there already."""

    def enqueue(self, link: Discovered) -> None:
        """Queue the link's job."""

    def append(self, body: EventBody) -> None:
        """Append an event to the log."""

    def save(self, record: CrawlRecord, progress_at: float) -> None:
        """Store the record's state, counts and times."""


def apply_outcome(
    book: CrawlBook, record: CrawlRecord, url: str, outcome: CrawlOutcome, progress_at: float, now: float
) -> bool:
    """Record ``outcome`` of the crawl's job for ``url``; False if nothing was recorded (ended crawl, repeat)."""
    if record.state in CRAWL_ENDED or not book.record_page(seen_key(url), outcome.body):
        return False
    counts = record.counts
    counts.queued -= 1
    if outcome.result in ("fetched", "failed"):
        setattr(counts, outcome.result, getattr(counts, outcome.result) + 1)
    else:
        counts.skipped[outcome.result] += 1
    if outcome.final_url is not None:
        book.add_seen(seen_key(outcome.final_url))
    for reason, count in outcome.skipped.items():
        counts.skipped[reason] += count
    max_pages = int(record.spec["max_pages"])
    new = book.add_seen_each([seen_key(link.url) for link in outcome.links])
    for link, is_new in zip(outcome.links, new, strict=True):
        if not is_new:
            counts.skipped["duplicate"] += 1
        elif record.admitted >= max_pages:
            counts.skipped["page_limit"] += 1
        else:
            record.admitted += 1
            counts.queued += 1
            book.enqueue(link)
    if counts.queued <= 0:
        record.state, record.finished_at = CRAWL_DONE, now
        book.append(done_event(record))
    elif now - progress_at >= PROGRESS_INTERVAL_SECONDS:
        book.append(crawl_event(CRAWL_PROGRESS, record))
        progress_at = now
    book.save(record, progress_at)
    return True


def admit_seeds(book: CrawlBook, record: CrawlRecord, seeds: list[str]) -> None:
    """A new crawl's seeds: each admitted once, up to ``max_pages``."""
    for url in seeds:
        if record.admitted < int(record.spec["max_pages"]) and book.add_seen(seen_key(url)):
            record.admitted += 1
            record.counts.queued += 1
            book.enqueue(Discovered(url, 0, None))
