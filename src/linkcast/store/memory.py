"""The in-memory backend: for tests and throwaway runs (``memory://``). Nothing survives the process."""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import time
from collections import deque
from collections.abc import Collection

import orjson

from linkcast.core.errors import Conflict, NotFound
from linkcast.core.events import (
    DONE,
    FAILED,
    FINISHED_STATES,
    QUEUED,
    RESULT,
    RUNNING,
    Event,
    EventBody,
    Job,
    Page,
    RequestRecord,
    accepted_body,
)
from linkcast.settings import Settings
from linkcast.store.base import Store


class MemoryStore(Store):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._requests: dict[str, RequestRecord] = {}
        self._submitted: dict[str, int] = {}  # request id -> its place in submission order (the listing's cursor)
        self._queue: deque[str] = deque()
        self._owned: dict[str, Job] = {}
        # Jobs whose worker gave them up without an outcome (``forget``): request id -> when the lease lapses. A live
        # worker's lease needs no renewal here, since the store lives and dies with the process.
        self._lapsing: dict[str, float] = {}
        self._events: list[Event] = []
        self._event_times: list[float] = []
        self._next_id = 1
        # Set (and replaced) whenever an event is appended or a job queued: waiters take the current one, look, then
        # wait on it. No lock: a Condition cancelled by a timeout while re-taking its lock fails under load.
        self._appended = asyncio.Event()
        self._queued = asyncio.Event()

    async def submit(self, request_id: str, url: str) -> tuple[RequestRecord, bool]:
        existing = self._requests.get(request_id)
        if existing is not None:
            if existing.url != url:
                raise Conflict(f"request {request_id!r} already exists with another URL")
            return existing, False
        record = RequestRecord(request_id, url)
        self._requests[request_id] = record
        self._submitted[request_id] = self._next_id
        await self._append(accepted_body(request_id, url))
        await self._enqueue(request_id)
        return record, True

    async def _enqueue(self, request_id: str) -> None:
        self._queue.append(request_id)
        self._announce_job()

    async def retry(self, request_id: str) -> RequestRecord:
        record = self._requests.get(request_id)
        if record is None:
            raise NotFound(f"no request with id {request_id!r}")
        if record.state != FAILED:
            raise Conflict(f"request {request_id!r} is {record.state}: only a failed request can be retried")
        record.state, record.attempts, record.outcome = QUEUED, 0, None
        record.started_at = record.finished_at = None
        await self._append(accepted_body(request_id, record.url, retry=True))
        await self._enqueue(request_id)
        return record

    async def get_request(self, request_id: str) -> RequestRecord | None:
        return self._requests.get(request_id)

    async def list_requests(self, state: str | None, after: str | None, limit: int) -> Page:
        start = int(after) if after else 0
        found = [
            record
            for record in self._requests.values()
            if self._submitted[record.request_id] > start and (state is None or record.state == state)
        ]
        page = found[:limit]
        more = len(found) > limit
        return Page(page, str(self._submitted[page[-1].request_id]) if more else None)

    def _announce_job(self) -> None:
        self._queued.set()
        self._queued = asyncio.Event()

    async def claim_job(self, worker_id: str, timeout: float) -> Job | None:
        deadline = time.monotonic() + timeout
        while True:
            queued = self._queued
            self._requeue_lapsed()
            if self._queue:
                break
            now = time.monotonic()
            if now >= deadline:
                return None
            wake = min([deadline, *self._lapsing.values()])
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(queued.wait(), max(0.0, wake - now))
        record = self._requests[self._queue.popleft()]
        record.state = RUNNING
        record.started_at = time.time()
        record.attempts += 1
        job = Job(record.request_id, record.url, record.attempts, worker_id)
        self._owned[record.request_id] = job
        return job

    async def append_started(self, job: Job, body: EventBody) -> Event:
        return await self._append(body)

    def forget(self, job: Job) -> None:
        if self._owned.get(job.request_id) == job:
            self._lapsing[job.request_id] = time.monotonic() + self.settings.job_visibility_timeout

    def _requeue_lapsed(self) -> None:
        now = time.monotonic()
        for request_id, lapses_at in list(self._lapsing.items()):
            if lapses_at <= now:
                del self._lapsing[request_id]
                if self._owned.pop(request_id, None) is not None:
                    self._requests[request_id].state = "queued"
                    self._queue.appendleft(request_id)

    async def finish(self, job: Job, body: EventBody) -> Event | None:
        self._owned.pop(job.request_id, None)
        self._lapsing.pop(job.request_id, None)
        record = self._requests[job.request_id]
        if record.state in FINISHED_STATES:
            return None
        event = await self._append(body)
        record.state = DONE if body.type == RESULT else FAILED
        record.finished_at = time.time()
        record.outcome = orjson.loads(body.data)
        return event

    async def release(self, job: Job) -> None:
        self._lapsing.pop(job.request_id, None)
        if self._owned.pop(job.request_id, None) is None:
            return
        record = self._requests[job.request_id]
        if record.state not in FINISHED_STATES:
            record.state = "queued"
            self._queue.appendleft(job.request_id)
            self._announce_job()

    async def events_after(
        self,
        since: int,
        request_ids: Collection[str] | None = None,
        limit: int = 1000,
        until: int | None = None,
    ) -> list[Event]:
        start = bisect.bisect_right(self._events, since, key=lambda e: e.id)
        found: list[Event] = []
        for event in self._events[start:]:
            if until is not None and event.id > until:
                break
            if request_ids is None or event.request_id in request_ids:
                found.append(event)
                if len(found) >= limit:
                    break
        return found

    async def wait_events(self, after: int, timeout: float) -> list[Event]:
        deadline = time.monotonic() + timeout
        while self._next_id - 1 <= after:
            appended = self._appended
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return []
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(appended.wait(), remaining)
        return await self.events_after(after, limit=10_000)

    async def last_event_id(self) -> int:
        return self._next_id - 1

    async def first_event_id(self) -> int:
        return self._events[0].id if self._events else self._next_id

    async def queue_depth(self) -> int:
        return len(self._queue)

    async def prune(self, older_than: float, keep_events: int) -> int:
        by_age = bisect.bisect_left(self._event_times, older_than)
        drop = max(by_age, len(self._events) - keep_events)
        del self._events[:drop]
        del self._event_times[:drop]
        finished = sorted(
            (record for record in self._requests.values() if record.state in FINISHED_STATES),
            key=lambda record: record.finished_at or 0.0,
        )
        beyond_count = len(finished) - keep_events
        for rank, record in enumerate(finished):
            if rank < beyond_count or (record.finished_at or 0.0) < older_than:
                del self._requests[record.request_id]
                del self._submitted[record.request_id]
        return drop

    async def _append(self, body: EventBody) -> Event:
        event = body.framed(self._next_id)
        self._next_id += 1
        self._events.append(event)
        self._event_times.append(time.time())
        self._appended.set()
        self._appended = asyncio.Event()
        return event
