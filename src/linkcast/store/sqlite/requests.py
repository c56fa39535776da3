"""The SQLite backend's single requests (``PUT /urls``): a record each, a page job, and exactly one terminal event."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from linkcast.core.errors import Conflict, LinkcastError, NotFound
from linkcast.core.events import (
    DONE,
    FAILED,
    FINISHED_STATES,
    PAGE_JOB,
    QUEUED,
    RESULT,
    Event,
    EventBody,
    Job,
    Page,
    RequestRecord,
    accepted_body,
)
from linkcast.core.flows import NO_FLOW
from linkcast.core.inputs import host_key
from linkcast.store.listing import LISTING_BYTES, within_budget
from linkcast.store.sqlite import scheduler
from linkcast.store.sqlite.core import SQLiteCore, Written
from linkcast.store.sqlite.events import deleting
from linkcast.store.sqlite.schema import append_event, next_place, record_from_row


def insert_request(
    connection: sqlite3.Connection,
    request_id: str,
    url: str,
    now: float,
    data: dict[str, Any] | None = None,
    flow: str = NO_FLOW,
) -> tuple[RequestRecord, bool, list[Event]]:
    """Record a request, queue its page job in ``flow`` (with ``data``: the feed and entry a followed page names) and
    append its ``accepted`` event: ``(record, True, [event])``; a repeat: ``(existing, False, [])``; ``Conflict`` if
    taken."""
    found = connection.execute("SELECT * FROM requests WHERE request_id = ?", (request_id,)).fetchone()
    if found is not None:
        existing = record_from_row(found)
        if existing.url != url:
            raise Conflict(f"request {request_id!r} already exists with another URL")
        return existing, False, []
    connection.execute(
        "INSERT INTO requests (rowid, request_id, url, state, created_at) VALUES (?, ?, ?, ?, ?)",
        (next_place(connection, "requests"), request_id, url, QUEUED, now),
    )
    event = append_event(connection, accepted_body(request_id, url), now)
    scheduler.enqueue(connection, PAGE_JOB, request_id, url, host_key(url), now, data, flow=flow)
    return RequestRecord(request_id, url, QUEUED, now), True, [event]


class SQLiteRequests(SQLiteCore):
    async def submit(self, request_id: str, url: str, flow: str = NO_FLOW) -> tuple[RequestRecord, bool]:
        def operation(connection: sqlite3.Connection) -> Written:
            record, created, events = insert_request(connection, request_id, url, time.time(), flow=flow)
            return Written((record, created), events)

        record, created = (await self._writer.run(operation)).value
        if created:
            await self._announce_jobs()
        return record, created

    async def submit_many(
        self, requests: list[tuple[str, str]], flow: str = NO_FLOW
    ) -> list[tuple[RequestRecord, bool] | LinkcastError]:
        """Every request of a batch in one write: one transaction and one commit instead of one each."""

        def operation(connection: sqlite3.Connection) -> Written:
            now = time.time()
            answers: list[tuple[RequestRecord, bool] | LinkcastError] = []
            events: list[Event] = []
            for request_id, url in requests:
                try:  # a Conflict is raised before anything of that request is written
                    record, created, added = insert_request(connection, request_id, url, now, flow=flow)
                except Conflict as conflict:
                    answers.append(conflict)
                    continue
                answers.append((record, created))
                events += added
            return Written(answers, events)

        answers: list[tuple[RequestRecord, bool] | LinkcastError] = (await self._writer.run(operation)).value
        if any(isinstance(answer, tuple) and answer[1] for answer in answers):
            await self._announce_jobs()
        return answers

    async def retry(self, request_id: str, flow: str = NO_FLOW) -> RequestRecord:
        def operation(connection: sqlite3.Connection) -> Written:
            row = connection.execute("SELECT * FROM requests WHERE request_id = ?", (request_id,)).fetchone()
            if row is None:
                raise NotFound(f"no request with id {request_id!r}")
            record = record_from_row(row)
            if record.state != FAILED:
                raise Conflict(f"request {request_id!r} is {record.state}: only a failed request can be retried")
            now = time.time()
            connection.execute(
                "UPDATE requests SET state = ?, attempts = 0, outcome = NULL, started_at = NULL, finished_at = NULL "
                "WHERE request_id = ?",
                (QUEUED, request_id),
            )
            event = append_event(connection, accepted_body(request_id, record.url, retry=True), now)
            scheduler.enqueue(connection, PAGE_JOB, request_id, record.url, host_key(record.url), now, flow=flow)
            return Written(RequestRecord(request_id, record.url, QUEUED, record.created_at), [event])

        record: RequestRecord = (await self._writer.run(operation)).value
        await self._announce_jobs()
        return record

    async def get_request(self, request_id: str) -> RequestRecord | None:
        def operation(connection: sqlite3.Connection) -> RequestRecord | None:
            row = connection.execute("SELECT * FROM requests WHERE request_id = ?", (request_id,)).fetchone()
            return record_from_row(row) if row else None

        return await self._reader.run(operation)

    async def list_requests(
        self, state: str | None, after: str | None, limit: int, max_bytes: int = LISTING_BYTES
    ) -> Page:
        condition, params = ("AND state = ?", [state]) if state is not None else ("", [])

        def operation(connection: sqlite3.Connection) -> Page:
            rows = connection.execute(  # stepped row by row: only the rows taken are read
                f"SELECT rowid, * FROM requests WHERE rowid > ? {condition} ORDER BY rowid LIMIT ?",
                [int(after or 0), *params, limit + 1],
            )
            taken, more = within_budget(rows, limit, max_bytes, lambda row: len(row[-1] or b""))
            return Page([record_from_row(row[1:]) for row in taken], str(taken[-1][0]) if more else None)

        return await self._reader.run(operation)

    async def append_started(self, job: Job, body: EventBody) -> Event:
        written = await self._writer.run(
            lambda connection: Written(events=[append_event(connection, body, time.time())])
        )
        return written.events[0]

    async def finish(self, job: Job, body: EventBody) -> Event | None:
        self.forget(job)

        def operation(connection: sqlite3.Connection, now: float) -> Written:
            row = connection.execute(
                "SELECT state, url FROM requests WHERE request_id = ?", (job.request_id,)
            ).fetchone()
            # Already has its terminal event (exactly one per request), or is another request under the id (``Store``).
            if row is None or row[0] in FINISHED_STATES or row[1] != job.url:
                return Written(None)
            event = append_event(connection, body, now)
            connection.execute(
                "UPDATE requests SET state = ?, finished_at = ?, outcome = ? WHERE request_id = ?",
                (DONE if body.type == RESULT else FAILED, now, body.data, job.request_id),
            )
            return Written(event, [event])

        event: Event | None = (await self._writer.run(self._completing(job, operation))).value
        await self._announce_jobs()  # the job's host has room again
        return event

    async def _prune_requests(self, older_than: float, keep: int) -> None:
        """Finished requests older than ``older_than``, and those beyond the newest ``keep`` finished ones.

        The boundary is found by the reader (a scan of up to ``keep`` index entries), so writers never wait on it.
        """

        def boundary(connection: sqlite3.Connection) -> float:
            row = connection.execute(
                "SELECT finished_at FROM requests WHERE finished_at IS NOT NULL "
                "ORDER BY finished_at DESC LIMIT 1 OFFSET ?",
                (keep,),
            ).fetchone()
            return float(row[0]) if row else float("-inf")

        beyond_count = await self._reader.run(boundary)
        await self._writer.run(
            deleting(
                "DELETE FROM requests WHERE finished_at IS NOT NULL AND (finished_at < ? OR finished_at <= ?)",
                (older_than, beyond_count),
            )
        )
