"""The SQLite backend's crawls: the record (``crawls``), the visited set (``crawl_seen``), the pages in the order
they ended (``crawl_pages``), and the frontier as fair-scheduled jobs; what one URL's end changes is
``crawl_ledger.apply_outcome``, run inside one transaction."""

from __future__ import annotations

import dataclasses
import functools
import sqlite3
import time
from collections.abc import Callable, Sequence
from typing import Any

import orjson

from linkcast.core.crawls import (
    CRAWL_CANCELLED,
    CRAWL_ENDED,
    CRAWL_QUEUED,
    CrawlCounts,
    CrawlOutcome,
    CrawlRecord,
    Discovered,
    accepted_event,
    done_event,
    seen_key,
)
from linkcast.core.errors import Conflict, NotFound
from linkcast.core.events import CRAWL_JOB, Event, EventBody, Job, Page
from linkcast.core.flows import crawl_flow
from linkcast.core.inputs import host_key
from linkcast.store.crawl_ledger import admit_seeds, apply_outcome
from linkcast.store.listing import LISTING_BYTES, within_budget
from linkcast.store.sqlite import scheduler
from linkcast.store.sqlite.core import SQLiteCore, Written
from linkcast.store.sqlite.events import deleting
from linkcast.store.sqlite.schema import append_event, next_place

RECORD_COLUMNS = "crawl_id, spec, state, created_at, started_at, finished_at, counts, progress_at"
# Keys one statement adds to a visited set at most (one bound value each, far below SQLite's 32,766).
SEEN_PER_STATEMENT = 512


def _record(row: tuple[Any, ...]) -> tuple[CrawlRecord, float]:
    crawl_id, spec, state, created_at, started_at, finished_at, counts, progress_at = row
    stored = orjson.loads(counts)
    record = CrawlRecord(
        crawl_id, orjson.loads(spec), state, created_at, started_at, finished_at, CrawlCounts.from_dict(stored)
    )
    record.admitted = stored.get("admitted", 0)
    record.given_back = stored.get("given_back", 0)
    return record, float(progress_at)


class _Book:
    """One crawl's rows for ``crawl_ledger``, inside the writer's transaction."""

    def __init__(self, connection: sqlite3.Connection, crawl_id: str, now: float) -> None:
        self.connection, self.crawl_id, self.now = connection, crawl_id, now
        self.events: list[Event] = []
        self.queued = 0

    def add_seen(self, key: bytes) -> bool:
        return self.add_seen_each([key])[0]

    def add_seen_each(self, keys: Sequence[bytes]) -> list[bool]:
        added = self._keys_answered(_insert_seen, keys)
        new = []
        for key in keys:
            new.append(key in added)
            added.discard(key)  # a key given twice is new the first time only
        return new

    def seen_each(self, keys: Sequence[bytes]) -> list[bool]:
        held = self._keys_answered(_select_seen, keys)
        return [key in held for key in keys]

    def _keys_answered(self, statement: Callable[[int], str], keys: Sequence[bytes]) -> set[bytes]:
        """The keys the statement for ``n`` keys returns, run over ``keys`` a part at a time. Each part is padded to a
        power of two with its last key (a repeat changes no answer), so that a handful of statements serve every size
        and stay in the connection's statement cache."""
        answered: set[bytes] = set()
        for start in range(0, len(keys), SEEN_PER_STATEMENT):
            part = list(keys[start : start + SEEN_PER_STATEMENT])
            size = 1 << (len(part) - 1).bit_length()
            part += part[-1:] * (size - len(part))
            answered.update(row[0] for row in self.connection.execute(statement(size), (self.crawl_id, *part)))
        return answered

    def record_page(self, key: bytes, body: EventBody) -> bool:
        # One statement on the hot path of every page: the next seq, the admission (the visited set holds the URL)
        # and the insert, which a page recorded already makes do nothing.
        inserted = self.connection.execute(
            "INSERT INTO crawl_pages (crawl_id, seq, key, body) "
            "SELECT ?1, coalesce((SELECT max(seq) FROM crawl_pages WHERE crawl_id = ?1), 0) + 1, ?2, ?3 "
            "WHERE EXISTS (SELECT 1 FROM crawl_seen WHERE crawl_id = ?1 AND key = ?2) ON CONFLICT DO NOTHING",
            (self.crawl_id, key, body.data),
        ).rowcount
        if inserted:
            self.append(body)
        return bool(inserted)

    def enqueue(self, link: Discovered) -> None:
        data = {"depth": link.depth, "referrer": link.referrer}
        flow = crawl_flow(self.crawl_id)
        scheduler.enqueue(
            self.connection, CRAWL_JOB, self.crawl_id, link.url, host_key(link.url), self.now, data, flow=flow
        )
        self.queued += 1

    def append(self, body: EventBody) -> None:
        self.events.append(append_event(self.connection, body, self.now))

    def save(self, record: CrawlRecord, progress_at: float) -> None:
        counts = orjson.dumps({**record.counts.to_dict(), "admitted": record.admitted, "given_back": record.given_back})
        self.connection.execute(
            "UPDATE crawls SET state = ?, started_at = ?, finished_at = ?, counts = ?, progress_at = ? "
            "WHERE crawl_id = ?",
            (record.state, record.started_at, record.finished_at, counts, progress_at, self.crawl_id),
        )


@functools.cache
def _insert_seen(rows: int) -> str:
    """One statement adding ``rows`` keys (``?2``...) to the visited set of crawl ``?1``; it returns those that were
    not there."""
    values = ", ".join(["(?1, ?)"] * rows)
    return f"INSERT INTO crawl_seen (crawl_id, key) VALUES {values} ON CONFLICT DO NOTHING RETURNING key"


@functools.cache
def _select_seen(rows: int) -> str:
    """One statement answering which of ``rows`` keys (``?2``...) the visited set of crawl ``?1`` holds."""
    return f"SELECT key FROM crawl_seen WHERE crawl_id = ?1 AND key IN ({', '.join(['?'] * rows)})"


def _load(connection: sqlite3.Connection, crawl_id: str) -> tuple[CrawlRecord, float] | None:
    row = connection.execute(f"SELECT {RECORD_COLUMNS} FROM crawls WHERE crawl_id = ?", (crawl_id,)).fetchone()
    return _record(row) if row else None


class SQLiteCrawls(SQLiteCore):
    def _preread(self, connection: sqlite3.Connection, job: Job) -> Job:
        if job.kind == CRAWL_JOB:  # the handler's first read: is the crawl still running, and with which options
            found = _load(connection, job.request_id)
            return dataclasses.replace(job, preread=(found[0] if found else None,))
        return super()._preread(connection, job)

    async def create_crawl(self, crawl_id: str, spec: dict[str, Any], seeds: list[str]) -> tuple[CrawlRecord, bool]:
        def operation(connection: sqlite3.Connection) -> Written:
            now = time.time()
            found = _load(connection, crawl_id)
            if found is not None:
                if found[0].spec != spec:
                    raise Conflict(f"crawl {crawl_id!r} already exists with other options")
                return Written((found[0], False))
            record = CrawlRecord(crawl_id, spec, CRAWL_QUEUED, now)
            connection.execute(
                f"INSERT INTO crawls (rowid, {RECORD_COLUMNS}) VALUES (?, ?, ?, ?, ?, NULL, NULL, ?, 0)",
                (next_place(connection, "crawls"), crawl_id, orjson.dumps(spec), CRAWL_QUEUED, now, b"{}"),
            )
            book = _Book(connection, crawl_id, now)
            admit_seeds(book, record, seeds)
            book.save(record, 0.0)
            book.append(accepted_event(record))
            return Written((record, True), book.events)

        record, created = (await self._writer.run(operation)).value
        if created:
            await self._announce_jobs()
        return record, created

    async def get_crawl(self, crawl_id: str) -> CrawlRecord | None:
        found = await self._reader.run(lambda connection: _load(connection, crawl_id))
        return found[0] if found else None

    async def list_crawls(self, after: str | None, limit: int, max_bytes: int = LISTING_BYTES) -> Page:
        def operation(connection: sqlite3.Connection) -> Page:
            rows = connection.execute(  # stepped row by row: only the rows taken are read
                f"SELECT rowid, {RECORD_COLUMNS} FROM crawls WHERE rowid > ? ORDER BY rowid LIMIT ?",
                (int(after or 0), limit + 1),
            )
            taken, more = within_budget(rows, limit, max_bytes, lambda row: len(row[2]))
            return Page([_record(row[1:])[0] for row in taken], str(taken[-1][0]) if more else None)

        return await self._reader.run(operation)

    async def crawl_pages(self, crawl_id: str, after: str | None, limit: int, max_bytes: int = LISTING_BYTES) -> Page:
        def operation(connection: sqlite3.Connection) -> Page:
            rows = connection.execute(  # stepped row by row: only the rows taken are read
                "SELECT seq, body FROM crawl_pages WHERE crawl_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                (crawl_id, int(after or 0), limit + 1),
            )
            taken, more = within_budget(rows, limit, max_bytes, lambda row: len(row[1]))
            items = [{"seq": seq, **orjson.loads(body)} for seq, body in taken]
            return Page(items, str(taken[-1][0]) if more else None)

        return await self._reader.run(operation)

    async def claim_crawl_url(self, crawl_id: str, url: str) -> bool:
        def operation(connection: sqlite3.Connection) -> Written:
            return Written(_Book(connection, crawl_id, 0.0).add_seen(seen_key(url)))

        return bool((await self._writer.run(operation)).value)

    async def finish_crawl_page(self, job: Job, outcome: CrawlOutcome) -> bool:
        self.forget(job)

        def operation(connection: sqlite3.Connection, now: float) -> Written:
            found = _load(connection, job.request_id)
            if found is None:
                return Written(False)
            record, progress_at = found
            book = _Book(connection, job.request_id, now)
            recorded = apply_outcome(book, record, job.url, outcome, progress_at, now)
            return Written(recorded, book.events)

        recorded = bool((await self._writer.run(self._completing(job, operation))).value)
        await self._announce_jobs()
        return recorded

    async def cancel_crawl(self, crawl_id: str) -> CrawlRecord:
        def operation(connection: sqlite3.Connection) -> Written:
            found = _load(connection, crawl_id)
            if found is None:
                raise NotFound(f"no crawl with id {crawl_id!r}")
            record, progress_at = found
            if record.state in CRAWL_ENDED:
                return Written(record)
            now = time.time()
            scheduler.drop_jobs_of(connection, CRAWL_JOB, crawl_id, now)
            record.state, record.finished_at = CRAWL_CANCELLED, now
            record.counts.queued = 0  # the queued URLs were dropped: none will be fetched
            book = _Book(connection, crawl_id, now)
            book.save(record, progress_at)
            book.append(done_event(record))
            return Written(record, book.events)

        record: CrawlRecord = (await self._writer.run(operation)).value
        return record

    async def _prune_crawls(self, older_than: float) -> None:
        """Ended crawls older than ``older_than``, with their visited sets and pages."""
        ended = await self._reader.run(
            lambda c: [row[0] for row in c.execute("SELECT crawl_id FROM crawls WHERE finished_at < ?", (older_than,))]
        )
        for crawl_id in ended:
            for table in ("crawl_seen", "crawl_pages", "crawls"):
                await self._writer.run(deleting(f"DELETE FROM {table} WHERE crawl_id = ?", (crawl_id,)))
