"""The Redis backend's event log: a Stream whose entry ids are the event ids (``<n>-0``, ``n`` from ``P:seq``), so
``since`` maps straight onto XRANGE/XREAD on every replica. Trimmed with MAXLEN on every append and by age in
``prune``. The events of each request or crawl are also listed by id (``P:ev:<id>``) for filtered replays.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence

from linkcast.core.events import Event, EventBody
from linkcast.settings import Settings
from linkcast.store.listing import LISTING_BYTES
from linkcast.store.redis.core import BLOCK_MAX_MS, RedisCore
from linkcast.store.redis.scripts import APPEND_ONE, LISTED_AFTER, PRUNE_EVENTS

SCAN_PAGE = 1000
# A replay filtered by up to this many requests reads their events by id; more, and it scans the log.
INDEXED_REQUESTS_MAX = 100


# Events read blind by the first step of a page (``_next_count``).
FIRST_READ = 16
# Most events the live tail reads at once (fewer when they are large: about LISTING_BYTES of them).
TAIL_READ = 10_000


class RedisEvents(RedisCore):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.register({"append": APPEND_ONE, "prune_events": PRUNE_EVENTS, "listed_after": LISTED_AFTER})

    async def _append(self, body: EventBody) -> Event:
        event_id = await self.run_script("append", body.type, body.request_id, body.data, self._maxlen)
        return body.framed(int(event_id))

    async def events_after(
        self,
        since: int,
        request_ids: Collection[str] | None = None,
        limit: int = 1000,
        until: int | None = None,
        max_bytes: int = LISTING_BYTES,
    ) -> list[Event]:
        wanted = frozenset(request_ids) if request_ids is not None else None
        if wanted is not None and len(wanted) <= INDEXED_REQUESTS_MAX:
            return await self._events_of(wanted, since, limit, until, max_bytes)
        upper = f"{until}-0" if until is not None else "+"
        found: list[Event] = []
        cursor, size = since, 0
        seen_bytes, seen = 0, 0  # of every entry read, wanted or not: what one step of reading may cost
        while len(found) < limit and size <= max_bytes and (until is None or cursor < until):
            remaining = limit - len(found) if wanted is None else SCAN_PAGE
            page_size = _next_count(remaining, seen_bytes, seen, max_bytes - size)
            entries = await self.redis.xrange(self.key("events"), f"{cursor + 1}-0", upper, count=page_size)
            for event in events_of_entries(entries):
                cursor = event.id
                seen_bytes, seen = seen_bytes + len(event.json), seen + 1
                if wanted is None or event.request_id in wanted:
                    found.append(event)
                    size += len(event.json)
                    if len(found) >= limit or size > max_bytes:
                        break
            if len(entries) < page_size:
                break
        return found

    async def _events_of(
        self, request_ids: Collection[str], since: int, limit: int, until: int | None, max_bytes: int
    ) -> list[Event]:
        """The events of a few requests, read by the ids their lists hold rather than by scanning the log: from the
        first the log still holds past ``since``, at most ``limit`` a request (the first ``limit`` of them all are
        among those)."""
        after = max(since, await self.first_event_id() - 1)  # ids before it are listed still, but trimmed from the log
        listed = await self.run_script(
            "listed_after", limit, after, "" if until is None else until, *sorted(request_ids)
        )
        ids = sorted(map(int, listed))[:limit]
        found: list[Event] = []
        size, start = 0, 0
        # Trimmed entries (the oldest) are skipped; read on until ``limit`` are found or the ids run out.
        while start < len(ids) and len(found) < limit and size <= max_bytes:
            count = _next_count(limit - len(found), size, len(found), max_bytes - size)
            async with self.redis.pipeline(transaction=False) as pipe:
                for event_id in ids[start : start + count]:
                    pipe.xrange(self.key("events"), f"{event_id}-0", f"{event_id}-0")
                entries = await pipe.execute()
            start += count
            for event in events_of_entries([entry for each in entries for entry in each]):
                found.append(event)
                size += len(event.json)
                if len(found) >= limit or size > max_bytes:
                    break
        return found

    async def wait_events(self, after: int, timeout: float) -> list[Event]:
        # XREAD BLOCK wakes as soon as an entry past `after` is added: no polling. It takes up to FIRST_READ entries,
        # as the first step of a page does; a backlog beyond them is read within about LISTING_BYTES, as a page is
        # (ten thousand 8 MiB results read at once would be 80 GB).
        answer = await self.blocking.xread(
            {self.key("events"): f"{after}-0"}, count=FIRST_READ, block=min(max(1, int(timeout * 1000)), BLOCK_MAX_MS)
        )
        if not answer:
            return []
        events = events_of_entries(answer[0][1])
        size = sum(len(event.json) for event in events)
        if len(events) < FIRST_READ or size > LISTING_BYTES:
            return events
        return events + await self.events_after(
            events[-1].id, limit=TAIL_READ - len(events), max_bytes=LISTING_BYTES - size
        )

    async def last_event_id(self) -> int:
        value = await self.redis.get(self.key("seq"))
        return int(value) if value else 0

    async def log_epoch(self) -> str:
        # Made by the first process to ask, on a fresh Redis as on one emptied by a restart: every process that knew
        # the one before sees it change, however many events the new log has had time to take.
        epoch = await self.redis.get(self.key("epoch"))
        if epoch is None:
            await self.redis.set(self.key("epoch"), uuid.uuid4().hex, nx=True)
            epoch = await self.redis.get(self.key("epoch"))
        return epoch.decode() if isinstance(epoch, bytes) else str(epoch or "")

    async def first_event_id(self) -> int:
        # The oldest entry and the counter read together (MULTI): read one after the other, an event appended
        # between them made an empty log seem to begin past its first event.
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xrange(self.key("events"), "-", "+", count=1)
            pipe.get(self.key("seq"))
            first, last = await pipe.execute()
        if first:
            return event_id_of(first[0][0])
        return (int(last) if last else 0) + 1

    async def _prune_events(self, older_than: float, keep_events: int) -> int:
        return int(await self.run_script("prune_events", repr(older_than), max(0, keep_events)))


def event_id_of(entry_id: bytes) -> int:
    return int(entry_id.partition(b"-")[0])


def events_of_entries(entries: Sequence[tuple[bytes, dict[bytes, bytes]]]) -> list[Event]:
    return [
        EventBody(fields[b"t"].decode(), fields[b"r"].decode(), fields[b"d"]).framed(event_id_of(entry_id))
        for entry_id, fields in entries
    ]


def _next_count(remaining: int, size: int, read: int, room: int) -> int:
    """How many events to read next: at first ``FIRST_READ`` (a result may be 8 MiB: a thousand read blind could be
    gigabytes), then as many as ``room`` (the bytes a page may still take) holds at the size read so far."""
    if read == 0:
        return max(1, min(remaining, FIRST_READ))
    average = max(1, size // read)
    return max(1, min(remaining, room // average + 1))
