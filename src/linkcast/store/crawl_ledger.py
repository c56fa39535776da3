"""What happens in the store when one URL of a crawl ends, written once for the backends that run Python inside
their transaction (memory, SQLite; Redis says the same in Lua, ``redis/crawl_scripts.py``):

1. A crawl that has ended (cancelled, done) takes nothing more: the job just ends. Nor does it take the outcome of
   a URL it never admitted (not in its visited set): the job was of a crawl made before under the same id, whose
   worker ended it only once the crawl was made again (on Redis, one that restarted without its data meanwhile).
2. A URL already recorded (a second delivery of a job whose first worker died after recording it) is not recorded
   again: each ``page`` or ``skipped`` event once.
3. The URL's event is appended and kept in the crawl's pages; its count goes up.
4. Each discovered link is admitted unless already seen (``duplicate``) or the crawl has admitted ``max_pages`` URLs
   (``page_limit``): admitted links join the visited set and the frontier (fair-scheduled jobs by host). A URL
   admitted but not fetched (robots.txt refused it, or it redirected to a visited page) gives its room back, so that
   ``max_pages`` pages are fetched where the site has them, but only ``max_pages`` times in a crawl: each such URL
   costs a fetch too (a redirect's, a robots.txt's), and a site whose every page lists fresh URLs that redirect into
   a visited page made a crawl of ``max_pages`` N some N^2/2 fetches (50 million at 10,000). A crawl runs at most
   2 x ``max_pages`` URLs. A URL there is no room for joins the visited set too, so
   that it counts once as ``page_limit`` and then as a ``duplicate``, but only the first
   ``MAX_REMEMBERED_OVER_LIMIT`` of them: past that, the set is only read, and a URL it does not hold counts as
   ``page_limit`` at each mention. A hostile site can put 100,000 new links on every page; without this bound one
   crawl would keep ``max_pages`` x 100,000 URLs.
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

# URLs over a crawl's max_pages kept in its visited set at most (a few hundred kB a crawl in any backend).
MAX_REMEMBERED_OVER_LIMIT = 10_000


class CrawlBook(Protocol):
    """One crawl's rows, inside the backend's transaction."""

    def seen_each(self, keys: Sequence[bytes]) -> list[bool]:
        """For each key, whether the visited set holds it (the set is not changed)."""

    def add_seen(self, key: bytes) -> bool:
        """Add ``key`` to the visited set; False if it was there."""

    def add_seen_each(self, keys: Sequence[bytes]) -> list[bool]:
        """Add each key to the visited set; for each, whether it was new (a key given twice is new the first time
        only). A page's links go in at once: one call instead of one per link."""

    def record_page(self, key: bytes, body: EventBody) -> bool:
        """Keep the URL's event in the crawl's pages (and append it to the log); False if it is there already, or if
        the crawl never admitted the URL (its visited set does not hold ``key``: step 1)."""

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
    else:  # no page was fetched for it (robots.txt, a redirect to a visited page): its room goes to the next link
        counts.skipped[outcome.result] += 1
        if record.given_back < int(record.spec["max_pages"]):
            record.given_back += 1
            record.admitted -= 1
    if outcome.final_url is not None:
        book.add_seen(seen_key(outcome.final_url))
    for reason, count in outcome.skipped.items():
        counts.skipped[reason] += count
    _admit_links(book, record, outcome.links)
    if counts.queued <= 0:
        record.state, record.finished_at = CRAWL_DONE, now
        book.append(done_event(record))
    elif now - progress_at >= PROGRESS_INTERVAL_SECONDS:
        book.append(crawl_event(CRAWL_PROGRESS, record))
        progress_at = now
    book.save(record, progress_at)
    return True


def _admit_links(book: CrawlBook, record: CrawlRecord, links: Sequence[Discovered]) -> None:
    """Admit, count as duplicates or count over the limit each link, in order (step 4)."""
    counts = record.counts
    max_pages = int(record.spec["max_pages"])
    position = 0
    while position < len(links):
        # Each link added to the visited set takes at most one unit of room: a page, or a remembered URL over the
        # limit. Duplicates take none, so the next part is sized again.
        room = max(0, max_pages - record.admitted) + max(0, MAX_REMEMBERED_OVER_LIMIT - counts.skipped["page_limit"])
        if room == 0:
            break
        part = links[position : position + room]
        position += len(part)
        new = book.add_seen_each([seen_key(link.url) for link in part])
        for link, is_new in zip(part, new, strict=True):
            if not is_new:
                counts.skipped["duplicate"] += 1
            elif record.admitted >= max_pages:
                counts.skipped["page_limit"] += 1
            else:
                record.admitted += 1
                counts.queued += 1
                book.enqueue(link)
    rest = links[position:]
    for known in book.seen_each([seen_key(link.url) for link in rest]) if rest else ():
        counts.skipped["duplicate" if known else "page_limit"] += 1


def admit_seeds(book: CrawlBook, record: CrawlRecord, seeds: list[str]) -> None:
    """A new crawl's seeds: each admitted once, up to ``max_pages``."""
    for url in seeds:
        if record.admitted < int(record.spec["max_pages"]) and book.add_seen(seen_key(url)):
            record.admitted += 1
            record.counts.queued += 1
            book.enqueue(Discovered(url, 0, None))
