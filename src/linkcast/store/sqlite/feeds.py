"""The SQLite backend's feeds: the record (``feeds``), the seen-set (``feed_seen``), the entries sent
(``feed_entries``), and one poll job per feed in the scheduler, due at its next poll; what one poll changes is
``feed_ledger.apply_poll``, inside one transaction."""

from __future__ import annotations

import dataclasses
import sqlite3
import time
from collections.abc import Sequence
from typing import Any, NamedTuple

import orjson

from linkcast.core.errors import Conflict, NotFound
from linkcast.core.events import FEED_JOB, Event, EventBody, Job, Page
from linkcast.core.feeds import FEED_ACCEPTED, FEED_GONE, FEED_REMOVED, FeedPoll, FeedRecord, PolledEntry, feed_event
from linkcast.core.flows import feed_flow
from linkcast.core.inputs import host_key
from linkcast.store.feed_ledger import apply_poll, apply_push, is_of_stored_feed
from linkcast.store.listing import LISTING_BYTES, within_budget
from linkcast.store.sqlite import scheduler
from linkcast.store.sqlite.core import SQLiteCore, Written
from linkcast.store.sqlite.events import delete_in_chunks
from linkcast.store.sqlite.requests import insert_request
from linkcast.store.sqlite.schema import append_event, next_place

# Entries kept per feed for GET /feeds/<id>/entries, the newest; older ones leave as new ones come.
ENTRIES_KEPT = 10_000
# A step of pruning by age (parameters: the cutoff, how many at most), through the feed_entries_age index.
PRUNE_ENTRIES = (
    "DELETE FROM feed_entries WHERE (feed_id, seq) IN "
    "(SELECT feed_id, seq FROM feed_entries WHERE created_at < ? ORDER BY created_at LIMIT ?)"
)
COLUMNS = (
    "feed_id", "spec", "url", "state", "title", "site_link", "created_at", "last_poll", "next_poll", "last_status",
    "last_error", "etag", "last_modified", "failures", "polls", "entry_count", "interval",
    "skip_mask",
)  # fmt: skip


def record_of_row(row: Sequence[Any]) -> FeedRecord:
    """The record of a row of ``COLUMNS``, in their order."""
    return FeedRecord.from_columns(dict(zip(COLUMNS, row, strict=True)))


def _load(connection: sqlite3.Connection, feed_id: str) -> FeedRecord | None:
    row = connection.execute(f"SELECT {', '.join(COLUMNS)} FROM feeds WHERE feed_id = ?", (feed_id,)).fetchone()
    return record_of_row(row) if row else None


def _save(connection: sqlite3.Connection, record: FeedRecord, place: int | None = None) -> None:
    """Store the record; a new one at ``place`` (``next_place``), its place in the listing."""
    values = record.columns()
    connection.execute(
        f"INSERT INTO feeds (rowid, {', '.join(COLUMNS)}) VALUES (?, {', '.join('?' * len(COLUMNS))}) "
        f"ON CONFLICT (feed_id) DO UPDATE SET {', '.join(f'{c} = excluded.{c}' for c in COLUMNS[1:])}",
        [place, *(values[column] for column in COLUMNS)],
    )


def _schedule(connection: sqlite3.Connection, record: FeedRecord, now: float) -> bool:
    """Queue the feed's poll for its ``next_poll``; False if one is queued or running already."""
    due = record.next_poll if record.next_poll is not None else now
    flow = feed_flow(record.feed_id)
    url, host = record.url, host_key(record.url)
    return scheduler.enqueue(connection, FEED_JOB, record.feed_id, url, host, now, None, due, flow)


class _Counts(NamedTuple):
    """The stored record's columns a poll's outcome needs (``feed_ledger.StoredCounts``): cheaper than all of it."""

    entry_count: int
    polls: int


class _Book:
    """One feed's rows for ``feed_ledger``, inside the writer's transaction."""

    def __init__(self, connection: sqlite3.Connection, feed_id: str, now: float, poll: Job | None = None) -> None:
        self.connection, self.feed_id, self.now = connection, feed_id, now
        self.poll = poll  # the job of the poll whose outcome this is: the next poll takes its place
        self.events: list[Event] = []
        self.queued = False
        self.next_poll_queued = False

    def fingerprint_of(self, key: bytes) -> str | None:
        row = self.connection.execute(
            "SELECT fingerprint FROM feed_seen WHERE feed_id = ? AND key = ?", (self.feed_id, key)
        ).fetchone()
        return str(row[0]) if row else None

    def remember(self, key: bytes, fingerprint: str) -> None:
        self.connection.execute(
            "INSERT INTO feed_seen (feed_id, key, fingerprint, last_seen) VALUES (?, ?, ?, ?) "
            "ON CONFLICT DO UPDATE SET fingerprint = excluded.fingerprint, last_seen = excluded.last_seen",
            (self.feed_id, key, fingerprint, self.now),
        )

    def record_entry(self, body: EventBody) -> None:
        self.append(body)
        # A file made before entry_seq was kept has 0 there: its entries kept say where the numbering stands.
        (seq,) = self.connection.execute(
            "UPDATE feeds SET entry_seq = max(entry_seq, (SELECT coalesce(max(seq), 0) FROM feed_entries "
            "WHERE feed_id = ?1)) + 1 WHERE feed_id = ?1 RETURNING entry_seq",
            (self.feed_id,),
        ).fetchone()
        self.connection.execute(
            "INSERT INTO feed_entries (feed_id, seq, created_at, body) VALUES (?, ?, ?, ?)",
            (self.feed_id, seq, self.now, body.data),
        )
        self.connection.execute(
            "DELETE FROM feed_entries WHERE feed_id = ? AND seq <= ?", (self.feed_id, seq - ENTRIES_KEPT)
        )

    def append(self, body: EventBody) -> None:
        self.events.append(append_event(self.connection, body, self.now))

    def follow(self, request_ids: list[str], url: str, entry_id: str) -> None:
        for request_id in request_ids:
            try:
                data = {"feed_id": self.feed_id, "entry_id": entry_id}
                _record, created, events = insert_request(
                    self.connection, request_id, url, self.now, data, feed_flow(self.feed_id)
                )
            except Conflict:
                continue  # another URL's request has the id
            self.events.extend(events)
            self.queued = self.queued or created
            return

    def forget_seen(self, older_than: float, keep: int) -> None:
        self.connection.execute(
            "DELETE FROM feed_seen WHERE feed_id = ? AND (last_seen < ? OR key IN (SELECT key FROM feed_seen "
            "WHERE feed_id = ? ORDER BY last_seen DESC LIMIT -1 OFFSET ?))",
            (self.feed_id, older_than, self.feed_id, keep),
        )

    def save(self, record: FeedRecord) -> None:
        _save(self.connection, record)

    def schedule(self, record: FeedRecord) -> None:
        assert self.poll is not None, "only a poll's outcome queues the next poll"
        due = record.next_poll if record.next_poll is not None else self.now
        scheduler.requeue(self.connection, self.poll, record.url, self.now, due, feed_flow(record.feed_id))
        self.queued = self.next_poll_queued = True


class SQLiteFeeds(SQLiteCore):
    async def create_feed(self, record: FeedRecord) -> tuple[FeedRecord, bool]:
        def operation(connection: sqlite3.Connection) -> Written:
            existing = _load(connection, record.feed_id)
            if existing is not None:
                if existing.spec != record.spec:
                    raise Conflict(f"feed {record.feed_id!r} is already watched with other options")
                return Written((existing, False))
            now = time.time()
            record.created_at, record.next_poll = now, now
            _save(connection, record, place=next_place(connection, "feeds"))
            _schedule(connection, record, now)
            event = append_event(connection, feed_event(FEED_ACCEPTED, record.feed_id, **record.to_dict()), now)
            return Written((record, True), [event])

        created_record, created = (await self._writer.run(operation)).value
        if created:
            await self._announce_jobs()
        return created_record, created

    async def get_feed(self, feed_id: str) -> FeedRecord | None:
        return await self._reader.run(lambda connection: _load(connection, feed_id))

    async def count_feeds(self) -> int:
        def read(connection: sqlite3.Connection) -> int:
            (count,) = connection.execute("SELECT count(*) FROM feeds").fetchone()
            return int(count)

        return await self._reader.run(read)

    async def list_feeds(self, after: str | None, limit: int) -> Page:
        def operation(connection: sqlite3.Connection) -> Page:
            rows = connection.execute(
                f"SELECT rowid, {', '.join(COLUMNS)} FROM feeds WHERE rowid > ? ORDER BY rowid LIMIT ?",
                (int(after or 0), limit + 1),
            ).fetchall()
            records = [record_of_row(row[1:]) for row in rows[:limit]]
            return Page(records, str(rows[limit - 1][0]) if len(rows) > limit else None)

        return await self._reader.run(operation)

    async def feed_entries(self, feed_id: str, after: str | None, limit: int, max_bytes: int = LISTING_BYTES) -> Page:
        def operation(connection: sqlite3.Connection) -> Page:
            rows = connection.execute(  # stepped row by row: only the rows taken are read
                "SELECT seq, body FROM feed_entries WHERE feed_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                (feed_id, int(after or 0), limit + 1),
            )
            taken, more = within_budget(rows, limit, max_bytes, lambda row: len(row[1]))
            items = [{"seq": seq, **orjson.loads(body)} for seq, body in taken]
            return Page(items, str(taken[-1][0]) if more else None)

        return await self._reader.run(operation)

    async def finish_feed_poll(self, job: Job, poll: FeedPoll) -> None:
        self.forget(job)

        def operation(connection: sqlite3.Connection) -> Written:
            now = time.time()
            row = connection.execute(
                "SELECT entry_count, polls, created_at FROM feeds WHERE feed_id = ?", (job.request_id,)
            ).fetchone()
            book = _Book(connection, job.request_id, now, job)
            if row is not None and is_of_stored_feed(poll, row[2]):
                apply_poll(book, _Counts(row[0], row[1]), poll, now)
            elif row is not None:  # removed and added again meanwhile: the new feed's poll is queued, not this one's
                stored = _load(connection, job.request_id)
                if stored is not None and stored.state != FEED_GONE:
                    book.schedule(stored)
            if not book.next_poll_queued:  # the feed is gone, or was removed: the poll's job just ends
                scheduler.complete(connection, job, now)
            return Written(book.queued, book.events)

        await self._writer.run(operation)
        await self._announce_jobs()

    async def record_pushed_entries(
        self, feed_id: str, entries: list[PolledEntry], created_at: float | None = None
    ) -> bool:
        def operation(connection: sqlite3.Connection) -> Written:
            stored = _load(connection, feed_id)
            if stored is None or created_at not in (None, stored.created_at):
                return Written((False, False))
            now = time.time()
            book = _Book(connection, feed_id, now)
            apply_push(book, stored, entries, now)
            return Written((True, book.queued), book.events)

        recorded, followed = (await self._writer.run(operation)).value
        if followed:
            await self._announce_jobs()  # the pages of new entries are queued
        return bool(recorded)

    async def poll_feed_by(self, feed_id: str, when: float) -> bool:
        def operation(connection: sqlite3.Connection) -> Written:
            record = _load(connection, feed_id)
            if record is None or record.state == FEED_GONE or record.next_poll is None or record.next_poll <= when:
                return Written(False)
            now = time.time()
            scheduler.drop_jobs_of(connection, FEED_JOB, feed_id, now)  # the queued poll; a running one stays
            moved = dataclasses.replace(record, next_poll=when)
            if not _schedule(connection, moved, now):  # running: the next poll is its to queue
                return Written(False)
            _save(connection, moved)
            return Written(True)

        brought: bool = (await self._writer.run(operation)).value
        if brought:
            await self._announce_jobs()
        return brought

    async def remove_feed(self, feed_id: str) -> FeedRecord:
        def operation(connection: sqlite3.Connection) -> Written:
            record = _load(connection, feed_id)
            if record is None:
                raise NotFound(f"no feed with id {feed_id!r}")
            now = time.time()
            scheduler.drop_jobs_of(connection, FEED_JOB, feed_id, now)
            for table in ("feeds", "feed_seen", "feed_entries"):
                connection.execute(f"DELETE FROM {table} WHERE feed_id = ?", (feed_id,))
            event = append_event(connection, feed_event(FEED_REMOVED, feed_id, url=record.url), now)
            return Written(record, [event])

        record: FeedRecord = (await self._writer.run(operation)).value
        return record

    async def _prune_feed_entries(self, older_than: float) -> None:
        """Entries sent before ``older_than``, ``PRUNE_CHUNK`` a transaction (a prune after a long pause may drop
        millions: in one transaction, every poll waited for it)."""
        await delete_in_chunks(self._writer, PRUNE_ENTRIES, older_than)
