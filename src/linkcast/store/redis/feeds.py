"""The Redis backend's feeds (``feed_scripts.py`` has the keys and the scripts)."""

from __future__ import annotations

import time

import orjson

from linkcast.core.errors import Conflict, NotFound
from linkcast.core.events import Job, Page
from linkcast.core.feeds import (
    FEED_ACCEPTED,
    FEED_REMOVED,
    FeedPoll,
    FeedRecord,
    PolledEntry,
    entry_event,
    entry_key,
    feed_event,
)
from linkcast.core.inputs import host_key
from linkcast.settings import Settings
from linkcast.store.feed_ledger import SEEN_MAX, SEEN_RETENTION_SECONDS
from linkcast.store.listing import LISTING_BYTES, within_budget
from linkcast.store.redis.events import SCAN_PAGE, RedisEvents
from linkcast.store.redis.feed_scripts import (
    CREATE,
    FINISH_POLL,
    POLL_BY,
    PRUNE_ENTRIES,
    PRUNE_REMOVED,
    PUSH,
    REMOVE,
    TAKE,
)

ENTRIES_KEPT = 10_000


# Entries one script takes at most: 64 new ones of a feed that follows its links cost Redis about 5 ms.
ENTRIES_PER_STEP = 64

# Entries read in one round trip (each may keep 256 KiB of links).
ENTRIES_AT_ONCE = 64

# What one script pruning entries by age looks at: this many feeds (a binary search of a few probes each) and drops at
# most this many entries (each may keep 256 KiB of links, freed inside the script).
FEEDS_PER_PRUNE = 100
ENTRIES_PER_PRUNE = 512


class RedisFeeds(RedisEvents):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.register(
            {"create_feed": CREATE, "take": TAKE, "finish_poll": FINISH_POLL, "push": PUSH, "remove_feed": REMOVE}
        )
        self.register({"prune_removed_feeds": PRUNE_REMOVED, "prune_feed_entries": PRUNE_ENTRIES})
        self.register({"poll_feed_by": POLL_BY})

    def feed_key(self, feed_id: str, part: str | None = None) -> str:
        return self.key("feed", feed_id, *((part,) if part else ()))

    async def create_feed(self, record: FeedRecord) -> tuple[FeedRecord, bool]:
        # As the script stores it (Lua writes a number with 14 digits): the record answered names its feed as
        # get_feed's does (a poll or a hub's delivery is matched to its feed by created_at).
        now = float(f"{time.time():.14g}")
        record.created_at, record.next_poll = now, now
        accepted = feed_event(FEED_ACCEPTED, record.feed_id, **record.to_dict())
        answer = await self.run_script(
            "create_feed", repr(now), self.concurrency, record.feed_id, orjson.dumps(record.columns()),
            host_key(record.url), accepted.data, self._maxlen,
        )  # fmt: skip
        if answer == -1:
            raise Conflict(f"feed {record.feed_id!r} is already watched with other options")
        if answer == 0:
            existing = await self.get_feed(record.feed_id)
            assert existing is not None
            return existing, False
        return record, True

    async def get_feed(self, feed_id: str) -> FeedRecord | None:
        fields = await self.redis.hgetall(self.feed_key(feed_id))
        return feed_record(fields) if fields else None

    async def list_feeds(self, after: str | None, limit: int) -> Page:
        entries = await self.redis.zrangebyscore(
            self.key("feeds"), f"({int(after or 0)}", "+inf", start=0, num=limit + 1, withscores=True
        )
        async with self.redis.pipeline(transaction=False) as pipe:
            for feed_id, _score in entries[:limit]:
                pipe.hgetall(self.feed_key(feed_id.decode()))
            fields = await pipe.execute()
        records = [feed_record(values) for values in fields if values]
        return Page(records, str(int(entries[limit - 1][1])) if len(entries) > limit else None)

    async def count_feeds(self) -> int:
        return int(await self.redis.zcard(self.key("feeds")))

    async def feed_entries(self, feed_id: str, after: str | None, limit: int, max_bytes: int = LISTING_BYTES) -> Page:
        """Entries are read ``ENTRIES_AT_ONCE`` at a time, and no more once they hold ``max_bytes``."""
        key = self.feed_key(feed_id, "entries")
        read: list[tuple[int, bytes]] = []
        cursor, size = int(after or 0), 0
        while len(read) <= limit and size <= max_bytes:
            part = await self.redis.xrange(key, f"({cursor}-0", "+", count=min(ENTRIES_AT_ONCE, limit + 1 - len(read)))
            if not part:
                break
            for entry_id, fields in part:
                cursor = int(entry_id.partition(b"-")[0])
                read.append((cursor, fields[b"d"]))
                size += len(fields[b"d"])
        taken, more = within_budget(read, limit, max_bytes, lambda row: len(row[1]))
        items = [{"seq": seq, **orjson.loads(body)} for seq, body in taken]
        return Page(items, str(taken[-1][0]) if more else None)

    async def finish_feed_poll(self, job: Job, poll: FeedPoll) -> None:
        job_id, owner = self.receipt_of(job)
        record = poll.record
        entries = _entry_rows(record.feed_id, poll.entries, backlog=await self._first_poll(record.feed_id))
        events = [[body.type, body.data.decode()] for body in poll.events]
        entries, taken = await self._take_all_but_last(record.feed_id, events, entries, record.created_at)
        if taken:
            events = []
        self.forget(job)
        await self.run_script(
            "finish_poll", repr(time.time()), self.concurrency, job_id, owner, record.feed_id,
            orjson.dumps(record.columns()), host_key(record.url), orjson.dumps(events), orjson.dumps(entries),
            self._maxlen, SEEN_RETENTION_SECONDS, SEEN_MAX, ENTRIES_KEPT, repr(record.created_at),
        )  # fmt: skip

    async def record_pushed_entries(
        self, feed_id: str, entries: list[PolledEntry], created_at: float | None = None
    ) -> bool:
        rows = _entry_rows(feed_id, entries, backlog=False)
        rows, _ = await self._take_all_but_last(feed_id, [], rows, created_at)
        answer = await self.run_script(
            "push", repr(time.time()), self.concurrency, feed_id, orjson.dumps(rows), self._maxlen, ENTRIES_KEPT,
            SEEN_RETENTION_SECONDS, SEEN_MAX, "" if created_at is None else repr(created_at),
        )  # fmt: skip
        return bool(answer)

    async def _take_all_but_last(
        self, feed_id: str, events: list[list[str]], rows: list[list[str]], created_at: float | None
    ) -> tuple[list[list[str]], bool]:
        """Take ``rows`` but the last step's ``ENTRIES_PER_STEP``, a step each, ``events`` with the first, for the
        feed made at ``created_at`` (None: any); answers the rows left for the last step and whether a step was taken
        (nothing is left for a feed removed meanwhile, or removed and added again)."""
        last = len(rows) - (len(rows) - 1) % ENTRIES_PER_STEP - 1 if rows else 0
        for start in range(0, last, ENTRIES_PER_STEP):
            part = rows[start : start + ENTRIES_PER_STEP]
            took = await self.run_script(
                "take", repr(time.time()), self.concurrency, feed_id, orjson.dumps(events if start == 0 else []),
                orjson.dumps(part), self._maxlen, ENTRIES_KEPT, "" if created_at is None else repr(created_at),
            )  # fmt: skip
            if not took:
                return [], True
        return rows[last:], last > 0

    async def _prune_removed_feeds(self) -> None:
        """Drop the event indexes of removed feeds once the log holds none of their events (``SCAN_PAGE`` a step)."""
        first = await self.first_event_id()
        while await self.run_script("prune_removed_feeds", first, SCAN_PAGE) == SCAN_PAGE:
            pass

    async def _prune_feed_entries(self, older_than: float) -> None:
        """Drop every feed's entries sent before ``older_than``, a script per ``FEEDS_PER_PRUNE`` feeds or
        ``ENTRIES_PER_PRUNE`` entries."""
        place, more = b"0", 1
        while more:
            place, more = await self.run_script(
                "prune_feed_entries", repr(older_than), place, FEEDS_PER_PRUNE, ENTRIES_PER_PRUNE
            )

    async def _first_poll(self, feed_id: str) -> bool:
        """Whether no successful poll of the feed is recorded yet (its entries then come as the backlog)."""
        polls = await self.redis.hget(self.feed_key(feed_id), "polls")
        return not polls or int(polls) == 0

    async def poll_feed_by(self, feed_id: str, when: float) -> bool:
        now = repr(time.time())
        return bool(await self.run_script("poll_feed_by", now, self.concurrency, feed_id, repr(when)))

    async def remove_feed(self, feed_id: str) -> FeedRecord:
        record = await self.get_feed(feed_id)
        removed = feed_event(FEED_REMOVED, feed_id, url=record.url if record else "")
        answer = await self.run_script(
            "remove_feed", repr(time.time()), self.concurrency, feed_id, removed.data, self._maxlen
        )
        if record is None or answer == 0:
            raise NotFound(f"no feed with id {feed_id!r}")
        return record


def _entry_rows(feed_id: str, entries: list[PolledEntry], *, backlog: bool) -> list[list[str]]:
    """The entries as the scripts take them: key, fingerprint, id, their event as new and as changed, link, host."""
    return [
        [
            entry_key(entry.entry_id).hex(), entry.fingerprint, entry.entry_id,
            entry_event(feed_id, entry, backlog=backlog, changed=False).data.decode(),
            entry_event(feed_id, entry, backlog=False, changed=True).data.decode(),
            entry.fields.get("link") or "",
            host_key(entry.fields["link"]) if entry.fields.get("link") else "",
        ]
        for entry in entries
    ]  # fmt: skip


def feed_record(fields: dict[bytes, bytes]) -> FeedRecord:
    return FeedRecord.from_columns({key.decode(): value.decode() for key, value in fields.items()})
