"""The Redis backend's single requests (``PUT /urls``): a hash per request (``P:req:<id>``: url, state, times,
attempts, the terminal body), listed in submission order (``P:requests``) and, once finished, by time
(``P:finished``, to prune them); each submit, retry and finish is one script."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import orjson

from linkcast.core.errors import Conflict, LinkcastError, NotFound
from linkcast.core.events import DONE, FAILED, RESULT, Event, EventBody, Job, Page, RequestRecord, accepted_body
from linkcast.core.flows import NO_FLOW
from linkcast.core.inputs import host_key
from linkcast.settings import Settings
from linkcast.store.listing import LISTING_BYTES
from linkcast.store.redis.core import READ_AT_ONCE
from linkcast.store.redis.events import SCAN_PAGE, RedisEvents
from linkcast.store.redis.scripts import FINISH, FORGET_FINISHED, RETRY, SUBMIT


class RedisRequests(RedisEvents):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.register({"submit": SUBMIT, "retry": RETRY, "finish": FINISH, "forget_finished": FORGET_FINISHED})

    def request_key(self, request_id: str) -> str:
        return self.key("req", request_id)

    async def submit(self, request_id: str, url: str, flow: str = NO_FLOW) -> tuple[RequestRecord, bool]:
        now = time.time()
        answer = await self.run_script("submit", *self._submit_args(request_id, url, now, flow))
        return _submitted(request_id, url, now, answer)

    async def submit_many(
        self, requests: list[tuple[str, str]], flow: str = NO_FLOW
    ) -> list[tuple[RequestRecord, bool] | LinkcastError]:
        """Every request's script in one pipeline: one round trip instead of one each (each script stays atomic)."""
        now = time.time()
        pipeline = self.redis.pipeline(transaction=False)
        for request_id, url in requests:
            await self.queue_script(pipeline, "submit", *self._submit_args(request_id, url, now, flow))
        answers: list[tuple[RequestRecord, bool] | LinkcastError] = []
        for (request_id, url), answer in zip(requests, await pipeline.execute(), strict=True):
            try:
                answers.append(_submitted(request_id, url, now, answer))
            except Conflict as conflict:
                answers.append(conflict)
        return answers

    def _submit_args(self, request_id: str, url: str, now: float, flow: str) -> list[Any]:
        body = accepted_body(request_id, url)
        return [repr(now), self.concurrency, request_id, url, host_key(url), body.data, self._maxlen, flow]

    async def retry(self, request_id: str, flow: str = NO_FLOW) -> RequestRecord:
        record = await self.get_request(request_id)
        if record is None:
            raise NotFound(f"no request with id {request_id!r}")
        body = accepted_body(request_id, record.url, retry=True)
        answer = await self.run_script(
            "retry",
            repr(time.time()),
            self.concurrency,
            request_id,
            host_key(record.url),
            body.data,
            self._maxlen,
            flow,
        )
        if answer[0] == -1:
            raise NotFound(f"no request with id {request_id!r}")
        if answer[0] == 0:
            raise Conflict(f"request {request_id!r} is {answer[1].decode()}: only a failed request can be retried")
        return RequestRecord(request_id, record.url, created_at=record.created_at)

    async def get_request(self, request_id: str) -> RequestRecord | None:
        fields = await self.redis.hgetall(self.request_key(request_id))
        return record_of(request_id, fields) if fields else None

    async def list_requests(
        self, state: str | None, after: str | None, limit: int, max_bytes: int = LISTING_BYTES
    ) -> Page:
        """Reads the listing a batch at a time; with a state, at most ``SCAN_PAGE`` entries are looked at per call,
        so a rare state may give a short (even empty) page whose ``next`` reads on. Records are read ``READ_AT_ONCE``
        at a time, and no more once those found hold ``max_bytes`` of outcomes."""
        lower = f"({int(after or 0)}"
        batch = limit if state is None else max(limit, SCAN_PAGE)
        entries = await self.redis.zrangebyscore(
            self.key("requests"), lower, "+inf", start=0, num=batch, withscores=True
        )
        found: list[RequestRecord] = []
        looked_at = 0
        size = 0
        for start in range(0, len(entries), READ_AT_ONCE):
            if len(found) == limit or size > max_bytes:
                break
            part = entries[start : start + READ_AT_ONCE]
            async with self.redis.pipeline(transaction=False) as pipe:
                for request_id, _score in part:
                    pipe.hgetall(self.request_key(request_id.decode()))
                fields = await pipe.execute()
            for (request_id, _score), values in zip(part, fields, strict=True):
                if len(found) == limit or size > max_bytes:
                    break
                looked_at += 1
                if values and (state is None or values[b"state"].decode() == state):
                    found.append(record_of(request_id.decode(), values))
                    size += len(values.get(b"outcome") or b"")
        if looked_at == 0 or (looked_at == len(entries) < batch):
            return Page(found, None)  # the listing's end was reached
        return Page(found, str(int(entries[looked_at - 1][1])))

    async def append_started(self, job: Job, body: EventBody) -> Event:
        return await self._append(body)

    async def finish(self, job: Job, body: EventBody) -> Event | None:
        self.forget(job)
        job_id, owner = self.receipt_of(job)
        state = DONE if body.type == RESULT else FAILED
        event_id = await self.run_script(
            "finish", repr(time.time()), self.concurrency, job_id, owner, body.type, body.request_id, body.data,
            self._maxlen, state, job.url,
        )  # fmt: skip
        return None if event_id is None else body.framed(int(event_id))

    async def _prune_requests(self, older_than: float, keep: int) -> None:
        """Forget finished requests older than ``older_than`` and beyond the newest ``keep`` finished ones."""
        finished = self.key("finished")
        while True:
            beyond = await self.redis.zcard(finished) - keep
            by_count = await self.redis.zrange(finished, 0, min(beyond, SCAN_PAGE) - 1) if beyond > 0 else []
            by_age = await self.redis.zrangebyscore(finished, "-inf", f"({older_than!r}", start=0, num=SCAN_PAGE)
            doomed = set(by_count) | set(by_age)
            if not doomed:
                return
            # Each dropped only if it is finished still: a retry since this read queued it again (the script).
            await self.run_script("forget_finished", *doomed)


def pairs(flat: Sequence[bytes]) -> dict[bytes, bytes]:
    return dict(zip(flat[::2], flat[1::2], strict=True))


def record_of(request_id: str, fields: dict[bytes, bytes]) -> RequestRecord:
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


def _submitted(request_id: str, url: str, now: float, answer: list[Any]) -> tuple[RequestRecord, bool]:
    """The submit script's answer: the new record, the one already there, or a ``Conflict``."""
    if answer[0] == -1:
        raise Conflict(f"request {request_id!r} already exists with another URL")
    if answer[0] == 0:
        return record_of(request_id, pairs(answer[1])), False
    return RequestRecord(request_id, url, created_at=now), True
