"""The in-memory backend's requests, jobs and event log (see ``__init__.py``)."""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import itertools
import math
import time
from collections.abc import Collection
from typing import Any

import orjson

from linkcast.core.errors import Conflict, NotFound
from linkcast.core.events import (
    DONE,
    FAILED,
    FINISHED_STATES,
    PAGE_JOB,
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
from linkcast.core.flows import NO_FLOW
from linkcast.core.inputs import host_key
from linkcast.settings import Settings
from linkcast.store.base import Store
from linkcast.store.fair_queue import FairQueue
from linkcast.store.listing import LISTING_BYTES, within_budget


class MemoryCore(Store):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._requests: dict[str, RequestRecord] = {}
        self._submitted: dict[str, int] = {}  # request id -> its place in submission order (the listing's cursor)
        # A live worker's lease needs no renewal here (the store lives and dies with the process): jobs are leased
        # forever, until their worker gives them up without an outcome (``forget``), which starts the lease's end.
        self._jobs = FairQueue(settings.per_host_concurrency, settings.per_host_delay)
        self._events: list[Event] = []
        self._event_times: list[float] = []
        self._next_id = 1
        # Set (and replaced) whenever an event is appended or a job queued: waiters take the current one, look, then
        # wait on it. No lock: a Condition cancelled by a timeout while re-taking its lock fails under load.
        self._appended = asyncio.Event()
        self._queued = asyncio.Event()
        self._receipts = itertools.count(1)

    async def submit(self, request_id: str, url: str, flow: str = NO_FLOW) -> tuple[RequestRecord, bool]:
        existing = self._requests.get(request_id)
        if existing is not None:
            if existing.url != url:
                raise Conflict(f"request {request_id!r} already exists with another URL")
            return existing, False
        record = RequestRecord(request_id, url)
        self._requests[request_id] = record
        self._submitted[request_id] = self._next_id
        self._append(accepted_body(request_id, url))
        self._enqueue(PAGE_JOB, request_id, url, flow=flow)
        return record, True

    def _enqueue(
        self, kind: str, request_id: str, url: str, data: dict[str, Any] | None = None, flow: str = NO_FLOW
    ) -> bool:
        queued = self._jobs.enqueue(kind, request_id, url, host_key(url), time.time(), data, flow=flow)
        self._announce_job()
        return queued

    async def retry(self, request_id: str, flow: str = NO_FLOW) -> RequestRecord:
        record = self._requests.get(request_id)
        if record is None:
            raise NotFound(f"no request with id {request_id!r}")
        if record.state != FAILED:
            raise Conflict(f"request {request_id!r} is {record.state}: only a failed request can be retried")
        record.state, record.attempts, record.outcome = QUEUED, 0, None
        record.started_at = record.finished_at = None
        self._append(accepted_body(request_id, record.url, retry=True))
        self._enqueue(PAGE_JOB, request_id, record.url, flow=flow)
        return record

    async def get_request(self, request_id: str) -> RequestRecord | None:
        return self._requests.get(request_id)

    async def list_requests(
        self, state: str | None, after: str | None, limit: int, max_bytes: int = LISTING_BYTES
    ) -> Page:
        start = int(after) if after else 0
        found = (
            record
            for record in self._requests.values()
            if self._submitted[record.request_id] > start and (state is None or record.state == state)
        )
        page, more = within_budget(found, limit, max_bytes, _outcome_bytes)
        return Page(page, str(self._submitted[page[-1].request_id]) if more else None)

    def _announce_job(self) -> None:
        self._queued.set()
        self._queued = asyncio.Event()

    async def claim_job(self, worker_id: str, timeout: float) -> Job | None:
        deadline = time.time() + timeout
        while True:
            queued = self._queued
            now = time.time()
            job = self._jobs.claim(f"{worker_id}#{next(self._receipts)}", now, math.inf)
            if job is not None:
                break
            if now >= deadline:
                return None
            wake = min(deadline, self._jobs.wake_hint(now) or deadline)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(queued.wait(), max(0.001, wake - now))
        self._on_claimed(job, now)
        return job

    def _on_claimed(self, job: Job, now: float) -> None:
        """Mark what the job belongs to as running."""
        if job.kind == PAGE_JOB:
            record = self._requests[job.request_id]
            if record.state not in FINISHED_STATES:  # one a late worker finished meanwhile stays finished
                record.state, record.started_at, record.attempts = RUNNING, now, job.attempt

    async def append_started(self, job: Job, body: EventBody) -> Event:
        return self._append(body)

    def forget(self, job: Job) -> None:
        self._jobs.lapse(job, time.time() + self.settings.job_visibility_timeout)

    async def finish(self, job: Job, body: EventBody) -> Event | None:
        self._jobs.complete(job)
        self._announce_job()
        record = self._requests.get(job.request_id)
        if record is None or record.state in FINISHED_STATES or record.url != job.url:
            return None
        event = self._append(body)
        record.state = DONE if body.type == RESULT else FAILED
        record.finished_at = time.time()
        record.outcome = orjson.loads(body.data)
        return event

    async def release(self, job: Job, retry_at: float | None = None) -> None:
        if self._jobs.give_back(job, retry_at) and job.kind == PAGE_JOB:
            record = self._requests[job.request_id]
            if record.state not in FINISHED_STATES:
                record.state = QUEUED
        self._announce_job()

    async def set_crawl_delay(self, host: str, delay: float, until: float) -> None:
        self._jobs.set_crawl_delay(host, delay, until, time.time())

    async def take_host_turn(self, host: str, within: float | None = None) -> float | None:
        return self._jobs.take_turn(host, time.time(), within)

    async def events_after(
        self,
        since: int,
        request_ids: Collection[str] | None = None,
        limit: int = 1000,
        until: int | None = None,
        max_bytes: int = LISTING_BYTES,
    ) -> list[Event]:
        start = bisect.bisect_right(self._events, since, key=lambda e: e.id)
        upper = len(self._events) if until is None else bisect.bisect_right(self._events, until, key=lambda e: e.id)
        wanted = (
            event
            for event in itertools.islice(self._events, start, upper)
            if request_ids is None or event.request_id in request_ids
        )
        return within_budget(wanted, limit, max_bytes, lambda event: len(event.json))[0]

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
        return self._jobs.queued()

    async def _prune_requests_and_events(self, older_than: float, keep_events: int) -> int:
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

    def _append(self, body: EventBody) -> Event:
        event = body.framed(self._next_id)
        self._next_id += 1
        self._events.append(event)
        self._event_times.append(time.time())
        self._appended.set()
        self._appended = asyncio.Event()
        return event


def _outcome_bytes(record: RequestRecord) -> int:
    """The bytes a record's outcome would take in a backend that stores it as JSON."""
    return len(orjson.dumps(record.outcome)) if record.outcome else 0
