"""The in-memory backend's crawls: records, visited sets and pages in dictionaries; what one URL's end changes is
``crawl_ledger.apply_outcome``, as in SQLite."""

from __future__ import annotations

import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from linkcast.core.crawls import (
    CRAWL_CANCELLED,
    CRAWL_ENDED,
    CRAWL_QUEUED,
    CRAWL_RUNNING,
    CrawlOutcome,
    CrawlRecord,
    Discovered,
    accepted_event,
    done_event,
    seen_key,
)
from linkcast.core.errors import Conflict, NotFound
from linkcast.core.events import CRAWL_JOB, EventBody, Job, Page
from linkcast.core.flows import crawl_flow
from linkcast.settings import Settings
from linkcast.store.crawl_ledger import admit_seeds, apply_outcome
from linkcast.store.listing import LISTING_BYTES, within_budget
from linkcast.store.memory.core import MemoryCore


@dataclass
class _Crawl:
    record: CrawlRecord
    place: int  # its place in the order crawls were made (the listing's cursor: pruned crawls leave no gap)
    progress_at: float = 0.0
    seen: set[bytes] = field(default_factory=set)
    pages: dict[bytes, int] = field(default_factory=dict)  # key -> seq
    bodies: list[dict[str, Any]] = field(default_factory=list)


class _Book:
    def __init__(self, store: MemoryCrawls, crawl: _Crawl) -> None:
        self.store, self.crawl = store, crawl

    def add_seen(self, key: bytes) -> bool:
        if key in self.crawl.seen:
            return False
        self.crawl.seen.add(key)
        return True

    def add_seen_each(self, keys: Sequence[bytes]) -> list[bool]:
        return [self.add_seen(key) for key in keys]

    def seen_each(self, keys: Sequence[bytes]) -> list[bool]:
        return [key in self.crawl.seen for key in keys]

    def record_page(self, key: bytes, body: EventBody) -> bool:
        if key in self.crawl.pages or key not in self.crawl.seen:
            return False
        self.crawl.pages[key] = len(self.crawl.bodies) + 1
        self.crawl.bodies.append(orjson.loads(body.data))  # the event's body, as the other stores keep it: no id
        self.append(body)
        return True

    def enqueue(self, link: Discovered) -> None:
        data = {"depth": link.depth, "referrer": link.referrer}
        crawl_id = self.crawl.record.crawl_id
        self.store._enqueue(CRAWL_JOB, crawl_id, link.url, data, crawl_flow(crawl_id))

    def append(self, body: EventBody) -> None:
        self.store._append(body)

    def save(self, record: CrawlRecord, progress_at: float) -> None:
        self.crawl.progress_at = progress_at


class MemoryCrawls(MemoryCore):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._crawls: dict[str, _Crawl] = {}
        self._crawl_places = itertools.count(1)

    def _on_claimed(self, job: Job, now: float) -> None:
        crawl = self._crawls.get(job.request_id) if job.kind == CRAWL_JOB else None
        if crawl is not None and crawl.record.state == CRAWL_QUEUED:
            crawl.record.state, crawl.record.started_at = CRAWL_RUNNING, now
        super()._on_claimed(job, now)

    async def create_crawl(self, crawl_id: str, spec: dict[str, Any], seeds: list[str]) -> tuple[CrawlRecord, bool]:
        existing = self._crawls.get(crawl_id)
        if existing is not None:
            if existing.record.spec != spec:
                raise Conflict(f"crawl {crawl_id!r} already exists with other options")
            return existing.record, False
        record = CrawlRecord(crawl_id, spec, CRAWL_QUEUED, time.time())
        crawl = self._crawls[crawl_id] = _Crawl(record, next(self._crawl_places))
        book = _Book(self, crawl)
        admit_seeds(book, crawl.record, seeds)
        book.append(accepted_event(crawl.record))
        return crawl.record, True

    async def get_crawl(self, crawl_id: str) -> CrawlRecord | None:
        crawl = self._crawls.get(crawl_id)
        return crawl.record if crawl else None

    async def list_crawls(self, after: str | None, limit: int, max_bytes: int = LISTING_BYTES) -> Page:
        start = int(after or 0)
        read = (crawl for crawl in self._crawls.values() if crawl.place > start)
        page, more = within_budget(read, limit, max_bytes, lambda crawl: len(orjson.dumps(crawl.record.spec)))
        return Page([crawl.record for crawl in page], str(page[-1].place) if more else None)

    async def crawl_pages(self, crawl_id: str, after: str | None, limit: int, max_bytes: int = LISTING_BYTES) -> Page:
        crawl = self._crawls.get(crawl_id)
        bodies = crawl.bodies if crawl else []
        start = int(after or 0)
        read = itertools.islice(bodies, start, None)
        taken, more = within_budget(read, limit, max_bytes, lambda body: len(orjson.dumps(body)))
        items = [{"seq": start + n + 1, **body} for n, body in enumerate(taken)]
        return Page(items, str(start + len(taken)) if more else None)

    async def claim_crawl_url(self, crawl_id: str, url: str) -> bool:
        crawl = self._crawls.get(crawl_id)
        return crawl is not None and _Book(self, crawl).add_seen(seen_key(url))

    async def finish_crawl_page(self, job: Job, outcome: CrawlOutcome) -> bool:
        self._jobs.complete(job)
        self._announce_job()
        crawl = self._crawls.get(job.request_id)
        if crawl is None:
            return False
        return apply_outcome(_Book(self, crawl), crawl.record, job.url, outcome, crawl.progress_at, time.time())

    async def cancel_crawl(self, crawl_id: str) -> CrawlRecord:
        crawl = self._crawls.get(crawl_id)
        if crawl is None:
            raise NotFound(f"no crawl with id {crawl_id!r}")
        record = crawl.record
        if record.state not in CRAWL_ENDED:
            self._jobs.drop_jobs_of(CRAWL_JOB, crawl_id)
            record.state, record.finished_at = CRAWL_CANCELLED, time.time()
            record.counts.queued = 0  # the queued URLs were dropped: none will be fetched
            self._append(done_event(record))
        return record

    def _prune_crawls(self, older_than: float) -> None:
        for crawl_id, crawl in list(self._crawls.items()):
            if crawl.record.finished_at is not None and crawl.record.finished_at < older_than:
                del self._crawls[crawl_id]
