"""The Redis backend (``redis://HOST:PORT/DB``): many API replicas and many worker processes share one Redis.

Keys, all under ``settings.redis_prefix``:

- ``<p>:jobs``: a Stream of queued jobs read through the consumer group ``workers`` (XREADGROUP). An entry stays in
  its consumer's pending list until ``finish`` acknowledges and deletes it, so a job whose worker died is handed out
  again (XAUTOCLAIM once it has been idle ``job_visibility_timeout`` seconds). A live worker refreshes the idle time
  of the jobs it holds, so a slow page is not mistaken for a dead worker.
- ``<p>:events``: the event log, a Stream whose entry ids are ``<n>-0`` with ``n`` from ``<p>:seq`` (INCR), so event
  ids are the integers clients see and ``since`` maps straight onto XRANGE/XREAD. Trimmed with MAXLEN on every append
  and by age (MINID) in ``prune``.
- ``<p>:req:<request_id>``: a Hash per request (url, state, times, attempts, the terminal body, the ids of its
  events for filtered replays), and ``<p>:finished``, a sorted set of finished requests by time, to prune them.

Every step that must not be split (submit: record + job + ``accepted`` event; finish: terminal event + record + ack)
is one Lua script, so that a crash between two commands can never leave half a change, and two deliveries of the same
job can never both append a terminal event.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Collection, Sequence
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from linkcast.core.errors import Conflict, LinkcastError, NotFound, StoreFull, StoreUnavailable
from linkcast.core.events import (
    DONE,
    FAILED,
    RESULT,
    Event,
    EventBody,
    Job,
    Page,
    RequestRecord,
    accepted_body,
)
from linkcast.settings import Settings
from linkcast.store.base import Store
from linkcast.store.redis_scripts import (
    APPEND_ONE,
    FINISH,
    FORGET_CONSUMERS,
    HEARTBEAT,
    PRUNE_EVENTS,
    QUEUE_DEPTH,
    RELEASE,
    RETRY,
    SUBMIT,
    TAKE,
)

log = logging.getLogger(__name__)

GROUP = "workers"
SCAN_PAGE = 1000
# A replay filtered by up to this many requests reads their events by id; more, and it scans the log.
INDEXED_REQUESTS_MAX = 100
# Consumers (one per worker task) that hold nothing and were idle this long are removed from the group.
STALE_CONSUMER_MS = 24 * 3600 * 1000
# Redis refusing writes for want of room: maxmemory reached (OOM), or snapshots failing on a full disk (MISCONF).
FULL_REPLIES = ("OOM", "MISCONF")
# Blocking reads (XREAD/XREADGROUP BLOCK) wait at most this long per call, well under the socket timeout, so that a
# long block is never mistaken for a dead connection and a dead one is still noticed.
SOCKET_TIMEOUT_SECONDS = 30.0
BLOCK_MAX_MS = 10_000
COMMAND_CONNECTIONS = 64
BLOCKING_CONNECTIONS = 10_000  # one per waiting reader: bounded by the worker count, not by load


class RedisStore(Store):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        # RESP2 pinned: the parsing below reads its shapes (redis-py may change its default protocol).
        options: dict[str, Any] = {"protocol": 2, "socket_timeout": SOCKET_TIMEOUT_SECONDS, "socket_connect_timeout": 5}
        # Commands share a bounded pool and wait for a free connection under load (the default pool raises instead).
        commands = aioredis.BlockingConnectionPool.from_url(
            settings.store, max_connections=COMMAND_CONNECTIONS, timeout=SOCKET_TIMEOUT_SECONDS, **options
        )
        self.redis: aioredis.Redis = aioredis.Redis.from_pool(commands)
        # Each blocking read (a worker task's XREADGROUP, the hub's XREAD) holds a connection while it waits: they get
        # their own pool, so that waiting readers never starve the commands.
        self.blocking: aioredis.Redis = aioredis.Redis.from_url(
            settings.store, max_connections=BLOCKING_CONNECTIONS, **options
        )
        prefix = settings.redis_prefix
        self.prefix = prefix
        self.jobs_key = f"{prefix}:jobs"
        self.events_key = f"{prefix}:events"
        self.seq_key = f"{prefix}:seq"
        self.finished_key = f"{prefix}:finished"
        self.requests_key = f"{prefix}:requests"
        self.visibility_ms = max(1, int(settings.job_visibility_timeout * 1000))
        self._maxlen = max(1, settings.retain_events)
        self._scripts = {
            name: self.redis.register_script(source)
            for name, source in {
                "submit": SUBMIT,
                "retry": RETRY,
                "take": TAKE,
                "append": APPEND_ONE,
                "finish": FINISH,
                "heartbeat": HEARTBEAT,
                "release": RELEASE,
                "queue_depth": QUEUE_DEPTH,
                "prune_events": PRUNE_EVENTS,
                "forget_consumers": FORGET_CONSUMERS,
            }.items()
        }
        self._held: dict[str, str] = {}  # entry id -> consumer, for the jobs this process holds
        self._claim_cursor = "0-0"
        self._next_reclaim = 0.0  # monotonic time of the next look for stale jobs
        self._heartbeat: asyncio.Task[None] | None = None

    async def _create_group(self) -> None:
        # Start from "0" so that jobs submitted before any worker created the group are delivered too.
        with contextlib.suppress(ResponseError):  # BUSYGROUP: another process created it first
            await self.redis.xgroup_create(self.jobs_key, GROUP, id="0", mkstream=True)

    def request_key(self, request_id: str) -> str:
        return f"{self.prefix}:req:{request_id}"

    async def open(self) -> None:
        await self._create_group()
        self._heartbeat = asyncio.create_task(self._refresh_held_forever(), name="linkcast-redis-heartbeat")

    async def close(self) -> None:
        """Stop refreshing held jobs (they become reclaimable after the visibility timeout); safe to call twice."""
        if self._heartbeat is not None:
            self._heartbeat.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat
            self._heartbeat = None
        await self.redis.aclose()
        await self.blocking.aclose()

    def translate_error(self, error: Exception) -> LinkcastError | None:
        if isinstance(error, RedisConnectionError | RedisTimeoutError | OSError):
            return StoreUnavailable(f"the store is unreachable: {error}")
        if isinstance(error, ResponseError) and str(error).startswith(FULL_REPLIES):
            return StoreFull(f"Redis refuses writes: {error}")
        if isinstance(error, RedisError):
            return StoreUnavailable(f"the store failed: {error}")
        return None

    async def submit(self, request_id: str, url: str) -> tuple[RequestRecord, bool]:
        keys = [self.request_key(request_id), self.jobs_key, self.seq_key, self.events_key, self.requests_key]
        body = accepted_body(request_id, url)
        now = time.time()
        answer = await self._scripts["submit"](keys, [request_id, url, repr(now), body.data, self._maxlen])
        if answer[0] == -1:
            raise Conflict(f"request {request_id!r} already exists with another URL")
        if answer[0] == 0:
            return _record(request_id, _pairs(answer[1])), False
        return RequestRecord(request_id, url, created_at=now), True

    async def retry(self, request_id: str) -> RequestRecord:
        keys = [self.request_key(request_id), self.jobs_key, self.seq_key, self.events_key, self.finished_key]
        record = await self.get_request(request_id)
        if record is None:
            raise NotFound(f"no request with id {request_id!r}")
        body = accepted_body(request_id, record.url, retry=True)
        answer = await self._scripts["retry"](keys, [request_id, body.data, self._maxlen])
        if answer[0] == -1:
            raise NotFound(f"no request with id {request_id!r}")
        if answer[0] == 0:
            raise Conflict(f"request {request_id!r} is {answer[1].decode()}: only a failed request can be retried")
        return RequestRecord(request_id, record.url, created_at=record.created_at)

    async def list_requests(self, state: str | None, after: str | None, limit: int) -> Page:
        """Reads the listing a batch at a time; with a state, at most ``SCAN_PAGE`` entries are looked at per call,
        so a rare state may give a short (even empty) page whose ``next`` reads on."""
        lower = f"({int(after or 0)}"
        batch = limit if state is None else max(limit, SCAN_PAGE)
        entries = await self.redis.zrangebyscore(self.requests_key, lower, "+inf", start=0, num=batch, withscores=True)
        async with self.redis.pipeline(transaction=False) as pipe:
            for request_id, _score in entries:
                pipe.hgetall(self.request_key(request_id.decode()))
            fields = await pipe.execute()
        found: list[RequestRecord] = []
        looked_at = 0
        for (request_id, _score), values in zip(entries, fields, strict=True):
            looked_at += 1
            if values and (state is None or values[b"state"].decode() == state):
                found.append(_record(request_id.decode(), values))
                if len(found) == limit:
                    break
        if looked_at == 0 or (looked_at == len(entries) < batch):
            return Page(found, None)  # the listing's end was reached
        return Page(found, str(int(entries[looked_at - 1][1])))

    async def get_request(self, request_id: str) -> RequestRecord | None:
        fields = await self.redis.hgetall(self.request_key(request_id))
        return _record(request_id, fields) if fields else None

    async def claim_job(self, worker_id: str, timeout: float) -> Job | None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                entry = await self._deliver(worker_id, deadline)
            except ResponseError as error:
                if "NOGROUP" not in str(error):
                    raise
                await self._create_group()  # the Redis lost its data (a restart without persistence)
                continue
            if entry is None:
                if time.monotonic() >= deadline:
                    return None
                continue
            job = await self._take(entry, worker_id)
            if job is not None:
                return job

    async def _deliver(self, worker_id: str, deadline: float) -> tuple[bytes, dict[bytes, bytes]] | None:
        """A stale job reclaimed, else a new one, waiting for it until ``deadline`` at most."""
        entry = await self._reclaim(worker_id)
        if entry is not None:
            return entry
        remaining_ms = int((deadline - time.monotonic()) * 1000)
        if remaining_ms <= 0:
            return None
        # New jobs wake the block at once; a job turning stale does not, so block only for part of the visibility
        # timeout before looking for stale jobs again.
        block_ms = min(remaining_ms, BLOCK_MAX_MS, max(50, self.visibility_ms // 2))
        answer = await self.blocking.xreadgroup(GROUP, worker_id, {self.jobs_key: ">"}, count=1, block=block_ms)
        return answer[0][1][0] if answer and answer[0][1] else None

    async def _reclaim(self, worker_id: str) -> tuple[bytes, dict[bytes, bytes]] | None:
        """One job left idle past the visibility timeout by a dead (or released) holder, now ours.

        Looked for at most every half visibility timeout per process while none is found, rather than before every
        job: a job becomes stale only that slowly, and the look costs a round trip.
        """
        now = time.monotonic()
        if now < self._next_reclaim:
            return None
        answer = await self.redis.xautoclaim(
            self.jobs_key, GROUP, worker_id, self.visibility_ms, start_id=self._claim_cursor, count=1
        )
        # The cursor walks the whole pending list across calls (each call only looks at a few entries).
        cursor = answer[0]
        self._claim_cursor = cursor.decode() if isinstance(cursor, bytes) else str(cursor)
        claimed = [item for item in answer[1] if item and item[1] is not None]
        if claimed:
            log.info("reclaimed job %s from a silent worker", claimed[0][0])
            return claimed[0]  # type: ignore[no-any-return]
        if self._claim_cursor == "0-0":  # the whole pending list was looked at
            self._next_reclaim = now + self.visibility_ms / 2000
        return None

    async def _take(self, entry: tuple[bytes, dict[bytes, bytes]], worker_id: str) -> Job | None:
        entry_id = entry[0].decode()
        request_id = entry[1][b"r"].decode()
        keys = [self.request_key(request_id), self.jobs_key]
        taken = await self._scripts["take"](keys, [GROUP, entry_id, repr(time.time())])
        if not taken:
            return None
        self._held[entry_id] = worker_id
        return Job(request_id, taken[1].decode(), int(taken[0]), f"{entry_id}/{worker_id}")

    async def append_started(self, job: Job, body: EventBody) -> Event:
        event_id = await self._scripts["append"](
            [self.seq_key, self.events_key, self.request_key(job.request_id)],
            [body.type, body.request_id, body.data, self._maxlen],
        )
        return body.framed(int(event_id))

    async def finish(self, job: Job, body: EventBody) -> Event | None:
        entry_id = job.receipt.partition("/")[0]
        self._held.pop(entry_id, None)
        keys = [self.request_key(job.request_id), self.jobs_key, self.seq_key, self.events_key, self.finished_key]
        state = DONE if body.type == RESULT else FAILED
        args = [GROUP, entry_id, body.type, body.request_id, body.data, repr(time.time()), self._maxlen, state]
        event_id = await self._scripts["finish"](keys, args)
        return None if event_id is None else body.framed(int(event_id))

    def forget(self, job: Job) -> None:
        self._held.pop(job.receipt.partition("/")[0], None)

    async def release(self, job: Job) -> None:
        entry_id, _, worker_id = job.receipt.partition("/")
        if self._held.pop(entry_id, None) is None:
            return
        keys = [self.jobs_key, self.request_key(job.request_id)]
        await self._scripts["release"](keys, [GROUP, entry_id, worker_id, job.request_id])

    async def _refresh_held_forever(self) -> None:
        """Reset the idle time of the jobs this process holds, well within the visibility timeout."""
        interval = self.visibility_ms / 3000
        while True:
            await asyncio.sleep(interval)
            for entry_id, worker_id in list(self._held.items()):
                try:
                    await self._scripts["heartbeat"]([self.jobs_key], [GROUP, entry_id, worker_id])
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.warning("refreshing job %s failed; it may be handed to another worker", entry_id)

    async def events_after(
        self,
        since: int,
        request_ids: Collection[str] | None = None,
        limit: int = 1000,
        until: int | None = None,
    ) -> list[Event]:
        wanted = frozenset(request_ids) if request_ids is not None else None
        if wanted is not None and len(wanted) <= INDEXED_REQUESTS_MAX:
            return await self._events_of(wanted, since, limit, until)
        upper = f"{until}-0" if until is not None else "+"
        found: list[Event] = []
        cursor = since
        while len(found) < limit and (until is None or cursor < until):
            page_size = limit - len(found) if wanted is None else SCAN_PAGE
            entries = await self.redis.xrange(self.events_key, f"{cursor + 1}-0", upper, count=page_size)
            for event in _events(entries):
                cursor = event.id
                if wanted is None or event.request_id in wanted:
                    found.append(event)
                    if len(found) >= limit:
                        break
            if len(entries) < page_size:
                break
        return found

    async def _events_of(self, request_ids: Collection[str], since: int, limit: int, until: int | None) -> list[Event]:
        """The events of a few requests, read by the ids their records list rather than by scanning the log."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for request_id in request_ids:
                pipe.hget(self.request_key(request_id), "events")
            lists = await pipe.execute()
        ids = sorted(
            event_id
            for listed in lists
            if listed
            for event_id in map(int, listed.split(b",")[:-1])
            if event_id > since and (until is None or event_id <= until)
        )
        found: list[Event] = []
        # Trimmed entries (the oldest) are skipped; read on until ``limit`` are found or the ids run out.
        for start in range(0, len(ids), max(1, limit)):
            async with self.redis.pipeline(transaction=False) as pipe:
                for event_id in ids[start : start + limit]:
                    pipe.xrange(self.events_key, f"{event_id}-0", f"{event_id}-0")
                entries = await pipe.execute()
            found.extend(_events([entry for each in entries for entry in each]))
            if len(found) >= limit:
                return found[:limit]
        return found

    async def wait_events(self, after: int, timeout: float) -> list[Event]:
        # XREAD BLOCK wakes as soon as an entry past `after` is added: no polling.
        answer = await self.blocking.xread(
            {self.events_key: f"{after}-0"}, count=10_000, block=min(max(1, int(timeout * 1000)), BLOCK_MAX_MS)
        )
        return _events(answer[0][1]) if answer else []

    async def last_event_id(self) -> int:
        value = await self.redis.get(self.seq_key)
        return int(value) if value else 0

    async def first_event_id(self) -> int:
        first = await self.redis.xrange(self.events_key, "-", "+", count=1)
        if first:
            return _event_id(first[0][0])
        return await self.last_event_id() + 1

    async def queue_depth(self) -> int:
        depth = await self._scripts["queue_depth"]([self.jobs_key], [GROUP, self.visibility_ms])
        return int(depth)

    async def prune(self, older_than: float, keep_events: int) -> int:
        dropped = await self._scripts["prune_events"]([self.events_key], [repr(older_than), max(0, keep_events)])
        await self._prune_requests(older_than, keep_events)
        with contextlib.suppress(ResponseError):  # no group yet
            await self._scripts["forget_consumers"]([self.jobs_key], [GROUP, STALE_CONSUMER_MS])
        return int(dropped)

    async def _prune_requests(self, older_than: float, keep: int) -> None:
        """Forget finished requests older than ``older_than`` and beyond the newest ``keep`` finished ones."""
        while True:
            beyond = await self.redis.zcard(self.finished_key) - keep
            by_count = await self.redis.zrange(self.finished_key, 0, min(beyond, SCAN_PAGE) - 1) if beyond > 0 else []
            by_age = await self.redis.zrangebyscore(
                self.finished_key, "-inf", f"({older_than!r}", start=0, num=SCAN_PAGE
            )
            doomed = set(by_count) | set(by_age)
            if not doomed:
                return
            async with self.redis.pipeline(transaction=False) as pipe:
                for request_id in doomed:
                    pipe.unlink(self.request_key(request_id.decode()))
                pipe.zrem(self.finished_key, *doomed)
                pipe.zrem(self.requests_key, *doomed)
                await pipe.execute()


def _event_id(entry_id: bytes) -> int:
    return int(entry_id.partition(b"-")[0])


def _events(entries: Sequence[tuple[bytes, dict[bytes, bytes]]]) -> list[Event]:
    return [
        EventBody(fields[b"t"].decode(), fields[b"r"].decode(), fields[b"d"]).framed(_event_id(entry_id))
        for entry_id, fields in entries
    ]


def _pairs(flat: Sequence[bytes]) -> dict[bytes, bytes]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


def _record(request_id: str, fields: dict[bytes, bytes]) -> RequestRecord:
    def number(name: bytes) -> float | None:
        value = fields.get(name)
        return float(value) if value else None

    outcome: Any = fields.get(b"outcome")
    return RequestRecord(
        request_id=request_id,
        url=fields[b"url"].decode(),
        state=fields[b"state"].decode(),
        created_at=number(b"created_at") or 0.0,
        started_at=number(b"started_at"),
        finished_at=number(b"finished_at"),
        attempts=int(fields.get(b"attempts", b"0")),
        outcome=orjson.loads(outcome) if outcome else None,
    )
