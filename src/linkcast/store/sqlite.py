"""The SQLite backend (the default, ``sqlite:///PATH``): jobs, requests and the append-only event log in one file.

WAL mode, one writer thread that group-commits (see ``sqlite_thread``) and one reader thread beside it. Writes are
acknowledged only once committed, so a request answered ``201`` survives a crash of the process. ``synchronous=NORMAL``
is the WAL setting that survives a killed process (the commit is in the WAL file); only a power loss may lose the last
transactions, a trade SQLite documents and most embedded queues make.

One process owns the file: ``open()`` returns jobs left ``running`` by a crashed process to the queue. Live delivery
is in-process: every commit that appends events wakes ``wait_events`` at once (no polling timer); a short cache of
the newest events serves the hub's tail without reading them back.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import itertools
import logging
import sqlite3
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from linkcast.core.errors import Conflict, LinkcastError, NotFound, StoreCorrupt, StoreFull, StoreUnavailable
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
from linkcast.store.sqlite_schema import (
    append_event,
    database_path,
    event_from_row,
    last_event_id_in,
    record_from_row,
    setup_connection,
)
from linkcast.store.sqlite_thread import SQLiteThread

# Events kept in memory for the hub's tail (bounded in count and in size); older ones are read from the file.
RECENT_EVENTS = 4096
RECENT_CHARS = 4 * 1024 * 1024
WAIT_BATCH = 10_000
# Rows deleted per transaction when pruning, so that appends never wait long behind a large prune.
PRUNE_CHUNK = 5000

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Written:
    """What a write operation returns: its value and the events it appended (announced on commit)."""

    value: Any = None
    events: list[Event] = field(default_factory=list)


def _deleting(sql: str, params: tuple[Any, ...]) -> Callable[[sqlite3.Connection], Written]:
    """A write operation running the DELETE ``sql``; its value is the number of rows removed."""
    return lambda connection: Written(connection.execute(sql, params).rowcount)


class SQLiteStore(Store):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.path = database_path(settings.store)
        self._writer = SQLiteThread(
            self.path,
            "linkcast-sqlite-writer",
            writer=True,
            setup=lambda c: setup_connection(c, writer=True),
            on_commit=self._on_commit,
        )
        self._reader = SQLiteThread(
            self.path, "linkcast-sqlite-reader", writer=False, setup=lambda c: setup_connection(c, writer=False)
        )
        self._recent: list[Event] = []
        self._recent_chars = 0
        self._last_id = 0
        self._appended = asyncio.Event()
        self._jobs_changed = asyncio.Condition()
        self._jobs_generation = 0
        self._lease_seconds = max(0.001, settings.job_visibility_timeout)
        self._held: dict[str, str] = {}  # owner receipt -> request id, for the jobs this process's workers hold
        self._receipts = itertools.count(1)
        self._renewing: asyncio.Task[None] | None = None

    # -- lifecycle ---------------------------------------------------------------------------------------------

    async def open(self) -> None:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._appended = asyncio.Event()
        self._jobs_changed = asyncio.Condition()
        await self._writer.start()
        await self._reader.start()
        self._last_id = (await self._writer.run(self._recover)).value
        self._renewing = asyncio.create_task(self._renew_leases_forever(), name="linkcast-sqlite-leases")
        await self._announce_jobs()

    async def close(self) -> None:
        if self._renewing is not None:
            self._renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._renewing
            self._renewing = None
        await self._writer.stop()
        await self._reader.stop()

    def translate_error(self, error: Exception) -> LinkcastError | None:
        if isinstance(error, sqlite3.Error):
            code = getattr(error, "sqlite_errorcode", None)
            if code == sqlite3.SQLITE_FULL:
                return StoreFull(f"the database has no room left ({self.path}): {error}")
            if code in (sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB):
                return StoreCorrupt(f"the database is damaged ({self.path}): {error}")
            if isinstance(error, sqlite3.OperationalError | sqlite3.DatabaseError) and not isinstance(
                error, sqlite3.IntegrityError | sqlite3.DataError | sqlite3.ProgrammingError
            ):
                return StoreUnavailable(f"the database cannot be used ({self.path}): {error}")
        if isinstance(error, RuntimeError) and not self._writer.running:
            return StoreUnavailable("the database is closed")
        return None

    @staticmethod
    def _recover(connection: sqlite3.Connection) -> Written:
        """Jobs held by a process that died go back to the queue, in their original order."""
        connection.execute("UPDATE jobs SET owner = NULL, lease_until = NULL WHERE owner IS NOT NULL")
        connection.execute(f"UPDATE requests SET state = '{QUEUED}' WHERE state = '{RUNNING}'")
        return Written(last_event_id_in(connection))

    # -- requests and jobs ----------------------------------------------------------------------------------------

    async def submit(self, request_id: str, url: str) -> tuple[RequestRecord, bool]:
        def operation(connection: sqlite3.Connection) -> Written:
            now = time.time()
            inserted = connection.execute(
                "INSERT INTO requests (request_id, url, state, created_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (request_id) DO NOTHING",
                (request_id, url, QUEUED, now),
            ).rowcount
            if not inserted:
                existing = record_from_row(
                    connection.execute("SELECT * FROM requests WHERE request_id = ?", (request_id,)).fetchone()
                )
                if existing.url != url:
                    raise Conflict(f"request {request_id!r} already exists with another URL")
                return Written((existing, False))
            event = append_event(connection, accepted_body(request_id, url), now)
            connection.execute("INSERT INTO jobs (request_id, url) VALUES (?, ?)", (request_id, url))
            return Written((RequestRecord(request_id, url, QUEUED, now), True), [event])

        record, created = (await self._writer.run(operation)).value
        if created:
            await self._announce_jobs()
        return record, created

    async def retry(self, request_id: str) -> RequestRecord:
        def operation(connection: sqlite3.Connection) -> Written:
            row = connection.execute("SELECT * FROM requests WHERE request_id = ?", (request_id,)).fetchone()
            if row is None:
                raise NotFound(f"no request with id {request_id!r}")
            record = record_from_row(row)
            if record.state != FAILED:
                raise Conflict(f"request {request_id!r} is {record.state}: only a failed request can be retried")
            connection.execute(
                "UPDATE requests SET state = ?, attempts = 0, outcome = NULL, started_at = NULL, finished_at = NULL "
                "WHERE request_id = ?",
                (QUEUED, request_id),
            )
            event = append_event(connection, accepted_body(request_id, record.url, retry=True), time.time())
            connection.execute("INSERT INTO jobs (request_id, url) VALUES (?, ?)", (request_id, record.url))
            return Written(RequestRecord(request_id, record.url, QUEUED, record.created_at), [event])

        record: RequestRecord = (await self._writer.run(operation)).value
        await self._announce_jobs()
        return record

    async def list_requests(self, state: str | None, after: str | None, limit: int) -> Page:
        condition, params = ("AND state = ?", [state]) if state is not None else ("", [])

        def operation(connection: sqlite3.Connection) -> Page:
            rows = connection.execute(
                f"SELECT rowid, * FROM requests WHERE rowid > ? {condition} ORDER BY rowid LIMIT ?",
                [int(after or 0), *params, limit + 1],
            ).fetchall()
            more = len(rows) > limit
            return Page([record_from_row(row[1:]) for row in rows[:limit]], str(rows[limit - 1][0]) if more else None)

        return await self._reader.run(operation)

    async def get_request(self, request_id: str) -> RequestRecord | None:
        def operation(connection: sqlite3.Connection) -> RequestRecord | None:
            row = connection.execute("SELECT * FROM requests WHERE request_id = ?", (request_id,)).fetchone()
            return record_from_row(row) if row else None

        return await self._reader.run(operation)

    async def claim_job(self, worker_id: str, timeout: float) -> Job | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            generation = self._jobs_generation
            job = await self._claim_safely(worker_id)
            if job is not None:
                return job
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            if generation != self._jobs_generation:
                continue  # a job was queued while we looked: look again rather than sleep through it
            # A new job wakes the wait at once; a lease lapsing does not, so look again after half a lease at most.
            async with self._jobs_changed:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._jobs_changed.wait(), min(remaining, self._lease_seconds / 2))

    async def _claim_safely(self, worker_id: str) -> Job | None:
        """Claim the oldest queued job; a caller cancelled meanwhile (a draining pool) gives it back at once."""
        owner = f"{worker_id}#{next(self._receipts)}"  # one receipt per claim: a lapsed holder cannot act on it again
        lease_until = time.time() + self._lease_seconds
        claim = asyncio.ensure_future(self._writer.run(lambda c: self._claim(c, owner, lease_until)))
        try:
            job: Job | None = (await asyncio.shield(claim)).value
        except asyncio.CancelledError:
            # The claim commits whatever happens to us: a job taken by nobody would wait for the next restart.
            taken: Job | None = (await claim).value
            if taken is not None:
                self._held[taken.receipt] = taken.request_id
                await self.release(taken)
            raise
        if job is not None:
            self._held[job.receipt] = job.request_id
        return job

    @staticmethod
    def _claim(connection: sqlite3.Connection, owner: str, lease_until: float) -> Written:
        """The job whose lease lapsed longest ago (held by no live worker), else the oldest queued one."""
        now = time.time()
        row = connection.execute(
            "SELECT seq, request_id, url FROM jobs WHERE owner IS NOT NULL AND lease_until < ? "
            "ORDER BY lease_until LIMIT 1",
            (now,),
        ).fetchone()
        if row is not None:
            log.warning("job of request %s was held by no live worker; handing it out again", row[1])
        else:
            row = connection.execute(
                "SELECT seq, request_id, url FROM jobs WHERE owner IS NULL ORDER BY seq LIMIT 1"
            ).fetchone()
        if row is None:
            return Written(None)
        seq, request_id, url = row
        connection.execute("UPDATE jobs SET owner = ?, lease_until = ? WHERE seq = ?", (owner, lease_until, seq))
        (attempts,) = connection.execute(
            "UPDATE requests SET state = ?, started_at = ?, attempts = attempts + 1 WHERE request_id = ? "
            "RETURNING attempts",
            (RUNNING, now, request_id),
        ).fetchone()
        return Written(Job(request_id, url, attempts, owner))

    def forget(self, job: Job) -> None:
        self._held.pop(job.receipt, None)

    async def _renew_leases_forever(self) -> None:
        """Keep the leases of the jobs this process's workers hold from lapsing: a third of a lease between renewals."""
        while True:
            await asyncio.sleep(self._lease_seconds / 3)
            owners = list(self._held)
            if not owners:
                continue
            until = time.time() + self._lease_seconds

            def renew(connection: sqlite3.Connection, owners: list[str] = owners, until: float = until) -> Written:
                connection.executemany("UPDATE jobs SET lease_until = ? WHERE owner = ?", [(until, o) for o in owners])
                return Written()

            try:
                await self._writer.run(renew)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the next round tries again; a lapsed lease only means a second delivery
                log.warning("renewing job leases failed: %s", error)

    async def append_started(self, job: Job, body: EventBody) -> Event:
        written = await self._writer.run(
            lambda connection: Written(events=[append_event(connection, body, time.time())])
        )
        return written.events[0]

    async def finish(self, job: Job, body: EventBody) -> Event | None:
        self.forget(job)

        def operation(connection: sqlite3.Connection) -> Written:
            connection.execute("DELETE FROM jobs WHERE request_id = ?", (job.request_id,))
            row = connection.execute("SELECT state FROM requests WHERE request_id = ?", (job.request_id,)).fetchone()
            if row is None or row[0] in FINISHED_STATES:
                return Written(None)  # already has its terminal event: exactly one per request
            now = time.time()
            event = append_event(connection, body, now)
            connection.execute(
                "UPDATE requests SET state = ?, finished_at = ?, outcome = ? WHERE request_id = ?",
                (DONE if body.type == RESULT else FAILED, now, body.data, job.request_id),
            )
            return Written(event, [event])

        event: Event | None = (await self._writer.run(operation)).value
        return event

    async def release(self, job: Job) -> None:
        self.forget(job)

        def operation(connection: sqlite3.Connection) -> Written:
            released = connection.execute(
                "UPDATE jobs SET owner = NULL, lease_until = NULL WHERE request_id = ? AND owner = ?",
                (job.request_id, job.receipt),
            ).rowcount
            if released:
                connection.execute(
                    "UPDATE requests SET state = ? WHERE request_id = ? AND state = ?",
                    (QUEUED, job.request_id, RUNNING),
                )
            return Written(released)

        if (await self._writer.run(operation)).value:
            await self._announce_jobs()

    async def queue_depth(self) -> int:
        def operation(connection: sqlite3.Connection) -> int:
            return int(connection.execute("SELECT count(*) FROM jobs WHERE owner IS NULL").fetchone()[0])

        return await self._reader.run(operation)

    async def _announce_jobs(self) -> None:
        self._jobs_generation += 1
        async with self._jobs_changed:
            self._jobs_changed.notify()

    # -- the event log ------------------------------------------------------------------------------------------

    async def events_after(
        self,
        since: int,
        request_ids: Collection[str] | None = None,
        limit: int = 1000,
        until: int | None = None,
    ) -> list[Event]:
        upper = until if until is not None else 2**63 - 1
        params: list[Any]
        if request_ids is None:
            sql = "SELECT id, type, request_id, body FROM events WHERE id > ? AND id <= ? ORDER BY id LIMIT ?"
            params = [since, upper, limit]
        else:
            wanted = sorted(set(request_ids))
            marks = ",".join("?" * len(wanted))
            sql = (
                "SELECT id, type, request_id, body FROM events "
                f"WHERE request_id IN ({marks}) AND id > ? AND id <= ? ORDER BY id LIMIT ?"
            )
            params = [*wanted, since, upper, limit]

        def operation(connection: sqlite3.Connection) -> list[Event]:
            return [event_from_row(row) for row in connection.execute(sql, params)]

        return await self._reader.run(operation)

    async def wait_events(self, after: int, timeout: float) -> list[Event]:
        if self._last_id <= after:
            try:
                async with asyncio.timeout(timeout):
                    while self._last_id <= after:
                        await self._appended.wait()
            except TimeoutError:
                # Nothing appended by this process; another one may write to the file: look once, then report.
                return await self.events_after(after, limit=WAIT_BATCH)
        recent = self._recent
        if recent and recent[0].id <= after + 1:
            start = bisect.bisect_right(recent, after, key=lambda event: event.id)
            return recent[start : start + WAIT_BATCH]
        return await self.events_after(after, limit=WAIT_BATCH)

    def _on_commit(self, results: list[Any]) -> None:
        """Called on the event loop for each committed group, before any writer resumes: announce new events."""
        appended = [event for result in results if isinstance(result, Written) for event in result.events]
        if not appended:
            return
        self._recent.extend(appended)
        self._recent_chars += sum(len(event.json) for event in appended)
        if len(self._recent) > 2 * RECENT_EVENTS or self._recent_chars > 2 * RECENT_CHARS:
            # Trim to half the bounds at once, so that trimming is rare (amortised O(1) per event).
            cut, kept_chars = len(self._recent), 0
            while cut > 0 and len(self._recent) - cut < RECENT_EVENTS // 2:
                size = len(self._recent[cut - 1].json)
                if kept_chars + size > RECENT_CHARS // 2:
                    break
                kept_chars += size
                cut -= 1
            del self._recent[:cut]
            self._recent_chars = kept_chars
        self._last_id = max(self._last_id, appended[-1].id)
        self._appended.set()
        self._appended = asyncio.Event()

    async def last_event_id(self) -> int:
        return await self._reader.run(last_event_id_in)

    async def first_event_id(self) -> int:
        def operation(connection: sqlite3.Connection) -> int:
            row = connection.execute("SELECT min(id) FROM events").fetchone()
            return int(row[0]) if row[0] is not None else last_event_id_in(connection) + 1

        return await self._reader.run(operation)

    # -- retention ------------------------------------------------------------------------------------------------

    async def prune(self, older_than: float, keep_events: int) -> int:
        def cutoff(connection: sqlite3.Connection) -> int:
            by_count = last_event_id_in(connection) - keep_events
            young = connection.execute(
                "SELECT id FROM events WHERE created_at >= ? ORDER BY id LIMIT 1", (older_than,)
            ).fetchone()
            by_age = young[0] - 1 if young else last_event_id_in(connection)
            return max(by_count, by_age)

        last_dropped = await self._reader.run(cutoff)
        chunk = _deleting(
            "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE id <= ? ORDER BY id LIMIT ?)",
            (last_dropped, PRUNE_CHUNK),
        )
        dropped = 0
        while True:
            count = int((await self._writer.run(chunk)).value)
            dropped += count
            if count < PRUNE_CHUNK:
                break
        await self._prune_requests(older_than, keep_events)
        return dropped

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
            _deleting(
                "DELETE FROM requests WHERE finished_at IS NOT NULL AND (finished_at < ? OR finished_at <= ?)",
                (older_than, beyond_count),
            )
        )
