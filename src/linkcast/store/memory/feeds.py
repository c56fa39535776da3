"""The in-memory backend's feeds: records, seen-sets and entries in dictionaries; what one poll changes is
``feed_ledger.apply_poll``, as in SQLite."""

from __future__ import annotations

import bisect
import itertools
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from linkcast.core.errors import Conflict, NotFound
from linkcast.core.events import FEED_JOB, PAGE_JOB, EventBody, Job, Page, RequestRecord, accepted_body
from linkcast.core.feeds import FEED_ACCEPTED, FEED_GONE, FEED_REMOVED, FeedPoll, FeedRecord, PolledEntry, feed_event
from linkcast.core.flows import feed_flow
from linkcast.core.inputs import host_key
from linkcast.settings import Settings
from linkcast.store.feed_ledger import apply_poll, apply_push, is_of_stored_feed
from linkcast.store.listing import LISTING_BYTES, within_budget
from linkcast.store.memory.crawls import MemoryCrawls

ENTRIES_KEPT = 10_000


@dataclass
class _Feed:
    record: FeedRecord
    place: int  # its place in the order feeds were added (the listing's cursor)
    seen: dict[bytes, tuple[str, float]] = field(default_factory=dict)  # key -> (fingerprint, last seen)
    entries: list[dict[str, Any]] = field(default_factory=list)
    entry_times: list[float] = field(default_factory=list)  # when each of ``entries`` was sent, for ``prune``
    first_seq: int = 1

    def drop_entries(self, count: int) -> None:
        """Drop the oldest ``count`` entries: the next keeps its ``seq``."""
        del self.entries[:count]
        del self.entry_times[:count]
        self.first_seq += count


class _Book:
    def __init__(self, store: MemoryFeeds, feed: _Feed, now: float) -> None:
        self.store, self.feed, self.now = store, feed, now

    def fingerprint_of(self, key: bytes) -> str | None:
        found = self.feed.seen.get(key)
        return found[0] if found else None

    def remember(self, key: bytes, fingerprint: str) -> None:
        self.feed.seen[key] = (fingerprint, self.now)

    def record_entry(self, body: EventBody) -> None:
        self.append(body)
        self.feed.entries.append(orjson.loads(body.data))  # the event's body, as the other stores keep it: no id
        self.feed.entry_times.append(self.now)
        if len(self.feed.entries) > ENTRIES_KEPT:
            self.feed.drop_entries(1)

    def append(self, body: EventBody) -> None:
        self.store._append(body)

    def follow(self, request_ids: list[str], url: str, entry_id: str) -> None:
        taken = self.store._requests
        request_id = next((id_ for id_ in request_ids if id_ not in taken or taken[id_].url == url), None)
        if request_id is None or request_id in taken:  # every id another URL's, or this URL followed already
            return
        self.store._requests[request_id] = RequestRecord(request_id, url)
        self.store._submitted[request_id] = self.store._next_id
        self.store._append(accepted_body(request_id, url))
        feed_id = self.feed.record.feed_id
        self.store._enqueue(PAGE_JOB, request_id, url, {"feed_id": feed_id, "entry_id": entry_id}, feed_flow(feed_id))

    def forget_seen(self, older_than: float, keep: int) -> None:
        recent = sorted(self.feed.seen.items(), key=lambda item: item[1][1], reverse=True)[:keep]
        self.feed.seen = {key: value for key, value in recent if value[1] >= older_than}

    def save(self, record: FeedRecord) -> None:
        self.feed.record = record

    def schedule(self, record: FeedRecord) -> None:
        self.store._schedule_poll(record)


class MemoryFeeds(MemoryCrawls):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._feeds: dict[str, _Feed] = {}
        self._feed_places = 0

    def _schedule_poll(self, record: FeedRecord, when: float | None = None) -> bool:
        """Queue the feed's poll for ``when`` (else its ``next_poll``); False if one is queued or running already."""
        now = time.time()
        due = when if when is not None else record.next_poll if record.next_poll is not None else now
        host = host_key(record.url)
        queued = self._jobs.enqueue(
            FEED_JOB, record.feed_id, record.url, host, now, not_before=due, flow=feed_flow(record.feed_id)
        )
        self._announce_job()
        return queued

    async def create_feed(self, record: FeedRecord) -> tuple[FeedRecord, bool]:
        existing = self._feeds.get(record.feed_id)
        if existing is not None:
            if existing.record.spec != record.spec:
                raise Conflict(f"feed {record.feed_id!r} is already watched with other options")
            return existing.record, False
        now = time.time()
        record.created_at, record.next_poll = now, now
        self._feed_places += 1
        self._feeds[record.feed_id] = _Feed(record, self._feed_places)
        self._schedule_poll(record)
        self._append(feed_event(FEED_ACCEPTED, record.feed_id, **record.to_dict()))
        return record, True

    async def get_feed(self, feed_id: str) -> FeedRecord | None:
        feed = self._feeds.get(feed_id)
        return feed.record if feed else None

    async def list_feeds(self, after: str | None, limit: int) -> Page:
        later = [feed for feed in self._feeds.values() if feed.place > int(after or 0)]
        page = later[:limit]
        return Page([feed.record for feed in page], str(page[-1].place) if len(later) > limit else None)

    async def count_feeds(self) -> int:
        return len(self._feeds)

    async def feed_entries(self, feed_id: str, after: str | None, limit: int, max_bytes: int = LISTING_BYTES) -> Page:
        feed = self._feeds.get(feed_id)
        if feed is None:
            return Page([], None)
        start = max(int(after or 0) + 1, feed.first_seq)
        offset = start - feed.first_seq
        read = itertools.islice(feed.entries, offset, None)
        chosen, more = within_budget(read, limit, max_bytes, lambda body: len(orjson.dumps(body)))
        items = [{"seq": start + n, **body} for n, body in enumerate(chosen)]
        return Page(items, str(start + len(chosen) - 1) if more else None)

    async def finish_feed_poll(self, job: Job, poll: FeedPoll) -> None:
        self._jobs.complete(job)
        self._announce_job()
        feed = self._feeds.get(job.request_id)
        if feed is not None and is_of_stored_feed(poll, feed.record.created_at):
            now = time.time()
            apply_poll(_Book(self, feed, now), feed.record, poll, now)
        elif feed is not None and feed.record.state != FEED_GONE:
            self._schedule_poll(feed.record)  # removed and added again meanwhile: the new feed's poll, not this one's

    async def poll_feed_by(self, feed_id: str, when: float) -> bool:
        feed = self._feeds.get(feed_id)
        record = feed.record if feed is not None else None
        if record is None or record.state == FEED_GONE or record.next_poll is None or record.next_poll <= when:
            return False
        self._jobs.drop_jobs_of(FEED_JOB, feed_id)  # the queued poll; a running one stays, and the next is its to queue
        if not self._schedule_poll(record, when):
            return False
        record.next_poll = when
        return True

    async def remove_feed(self, feed_id: str) -> FeedRecord:
        feed = self._feeds.pop(feed_id, None)
        if feed is None:
            raise NotFound(f"no feed with id {feed_id!r}")
        self._jobs.drop_jobs_of(FEED_JOB, feed_id)
        self._append(feed_event(FEED_REMOVED, feed_id, url=feed.record.url))
        return feed.record

    async def record_pushed_entries(
        self, feed_id: str, entries: list[PolledEntry], created_at: float | None = None
    ) -> bool:
        feed = self._feeds.get(feed_id)
        if feed is None or created_at not in (None, feed.record.created_at):
            return False
        now = time.time()
        apply_push(_Book(self, feed, now), feed.record, entries, now)
        return True

    def _prune_feed_entries(self, older_than: float) -> None:
        for feed in self._feeds.values():
            feed.drop_entries(bisect.bisect_left(feed.entry_times, older_than))
