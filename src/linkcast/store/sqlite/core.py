"""The SQLite backend's core: its two connections, its error translation, and jobs (claimed, leased, given back).

WAL mode, one writer thread that group-commits (``thread.py``) and one reader thread beside it. Writes are
acknowledged only once committed, so a request answered ``201`` survives a crash of the process. ``synchronous=NORMAL``
is the WAL setting that survives a killed process (the commit is in the WAL file); only a power loss may lose the last
transactions, a trade SQLite documents and most embedded queues make.

One process owns the file (``ownership.py`` locks it): ``open()`` returns jobs left running by a crashed process to
their queues. Jobs are taken by the fair scheduler of ``scheduler.py``; each is leased to its worker, and this process
renews the leases of the jobs its workers hold, so a job whose worker could neither finish nor give it back returns
within a lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import shutil
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from linkcast.core.errors import LinkcastError, StoreCorrupt, StoreFull, StoreUnavailable
from linkcast.core.events import CRAWL_JOB, DONE, FAILED, PAGE_JOB, QUEUED, RUNNING, Event, Job
from linkcast.logs import RepeatedProblem
from linkcast.settings import Settings
from linkcast.store.base import Store
from linkcast.store.sqlite import scheduler
from linkcast.store.sqlite.ownership import disown_database, own_database
from linkcast.store.sqlite.schema import database_path, last_event_id_in, setup_connection
from linkcast.store.sqlite.thread import SQLiteThread

log = logging.getLogger(__name__)

# Hosts looked at in one transaction by the prune's sweep of idle ones (four index lookups each).
HOSTS_PER_STEP = 1000
# Free bytes under which a disk that failed a write is taken to be full (SQLite writes pages of 4 KiB and more).
NO_ROOM_BYTES = 1 << 20


@dataclass(slots=True)
class Written:
    """What a write operation returns: its value and the events it appended (announced on commit)."""

    value: Any = None
    events: list[Event] = field(default_factory=list)


class SQLiteCore(Store):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        # A store full or away fails every round (a third of a lease): one line, then one a minute with a count.
        self._renewing_failed = RepeatedProblem(log)
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
        self._last_id = 0
        self._jobs_changed = asyncio.Condition()
        self._jobs_generation = 0
        self._lease_seconds = max(0.001, settings.job_visibility_timeout)
        self._limits = scheduler.Limits(max(1, settings.per_host_concurrency), max(0.0, settings.per_host_delay))
        self._held: set[str] = set()  # owners of the jobs this process's workers hold
        self._receipts = itertools.count(1)
        self._renewing: asyncio.Task[None] | None = None
        self._owned: int | None = None  # the lock that makes this process the file's one owner

    def _on_commit(self, results: list[Any]) -> None:
        """Announce what a committed group appended (``events.py``)."""

    # -- lifecycle ---------------------------------------------------------------------------------------------

    async def open(self) -> None:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._owned = own_database(self.path)  # before _recover, which takes back the jobs marked running
        self._jobs_changed = asyncio.Condition()
        try:
            await self._writer.start()
            await self._reader.start()
            self._last_id = (await self._writer.run(self._recover)).value
        except BaseException:
            await self._writer.stop()
            await self._reader.stop()
            disown_database(self._owned)
            self._owned = None
            raise
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
        disown_database(self._owned)
        self._owned = None

    async def probe_write(self) -> None:
        def operation(connection: sqlite3.Connection) -> Written:
            connection.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('health_probe', ?)", (time.time(),))
            return Written()

        await self._writer.run(operation)

    def translate_error(self, error: Exception) -> LinkcastError | None:
        if isinstance(error, sqlite3.Error):
            code = getattr(error, "sqlite_errorcode", None)
            if code == sqlite3.SQLITE_FULL or (
                code is not None and code & 0xFF == sqlite3.SQLITE_IOERR and no_room(self.path)
            ):
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
        """Jobs held by a process that died go back to their queues (keeping their place)."""
        held_hosts = [row[0] for row in connection.execute("SELECT DISTINCT host FROM jobs WHERE owner IS NOT NULL")]
        connection.execute("UPDATE jobs SET owner = NULL, lease_until = NULL WHERE owner IS NOT NULL")
        connection.execute("UPDATE hosts SET running = 0")
        for host in held_hosts:
            scheduler.refresh_head(connection, host)
        connection.execute(f"UPDATE requests SET state = '{QUEUED}' WHERE state = '{RUNNING}'")
        return Written(last_event_id_in(connection))

    # -- jobs -----------------------------------------------------------------------------------------------------

    async def claim_job(self, worker_id: str, timeout: float) -> Job | None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            generation = self._jobs_generation
            job, wake_at = await self._claim_safely(worker_id)
            if job is not None:
                return job
            remaining = deadline - loop.time()
            if remaining <= 0:
                return None
            if generation != self._jobs_generation:
                continue  # a job was queued while we looked: look again rather than sleep through it
            # A new job wakes the wait at once; time passing does not (a host's spacing ending, a job coming due, a
            # lease lapsing), so look again by then, and at least every half lease.
            wait = min(remaining, self._lease_seconds / 2)
            if wake_at is not None:
                wait = min(wait, max(0.001, wake_at - time.time()))
            # asyncio.timeout, not wait_for: wait_for runs the wait as a task of its own, and a cancellation (a
            # draining pool) that came while it cancelled that task on its timeout left the Condition without its
            # lock (RuntimeError) and the task, which got the lock later, holding it for ever: every later
            # _announce_jobs then hung. In this task, Condition.wait gets its lock back before any exception leaves.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait), self._jobs_changed:
                    await self._jobs_changed.wait()

    async def _claim_safely(self, worker_id: str) -> tuple[Job | None, float | None]:
        """Claim the next job; a caller cancelled meanwhile (a draining pool) gives it back at once."""
        owner = f"{worker_id}#{next(self._receipts)}"  # one receipt per claim: a lapsed holder cannot act on it again
        claim = asyncio.ensure_future(self._writer.run(lambda c: self._claim(c, owner)))
        try:
            job, wake_at = (await asyncio.shield(claim)).value
        except asyncio.CancelledError:
            # The claim commits whatever happens to us: a job taken by nobody would wait for its lease to lapse.
            taken, _ = (await claim).value
            if taken is not None:
                self._held.add(owner)
                await self.release(taken)
            raise
        if job is not None:
            self._held.add(owner)
        return job, wake_at

    def _claim(self, connection: sqlite3.Connection, owner: str) -> Written:
        now = time.time()
        claimed = scheduler.claim(connection, owner, now, now + self._lease_seconds, self._limits)
        job = claimed.job
        if job is None:
            return Written((None, scheduler.wake_hint(connection, now)))
        if job.kind == PAGE_JOB:  # a request a late worker finished meanwhile stays finished (exactly one outcome)
            connection.execute(
                "UPDATE requests SET state = ?, started_at = ?, attempts = ? WHERE request_id = ? "
                "AND state NOT IN (?, ?)",
                (RUNNING, now, job.attempt, job.request_id, DONE, FAILED),
            )
        elif job.kind == CRAWL_JOB:
            connection.execute(
                "UPDATE crawls SET state = ?, started_at = ? WHERE crawl_id = ? AND state = ?",
                (RUNNING, now, job.request_id, QUEUED),
            )
        return Written((self._preread(connection, job), None))

    def _preread(self, connection: sqlite3.Connection, job: Job) -> Job:
        """``job`` with what its handler reads first (``Job.preread``), where a backend mixin reads it."""
        return job

    def forget(self, job: Job) -> None:
        self._held.discard(scheduler.receipt_of(job)[1])

    async def release(self, job: Job, retry_at: float | None = None) -> None:
        self.forget(job)

        def operation(connection: sqlite3.Connection) -> Written:
            released = scheduler.give_back(connection, job, retry_at)
            if released and job.kind == PAGE_JOB:
                connection.execute(
                    "UPDATE requests SET state = ? WHERE request_id = ? AND state = ?",
                    (QUEUED, job.request_id, RUNNING),
                )
            return Written(released)

        if (await self._writer.run(operation)).value:
            await self._announce_jobs()

    async def set_crawl_delay(self, host: str, delay: float, until: float) -> None:
        await self._writer.run(lambda c: Written(scheduler.set_crawl_delay(c, host, delay, until, time.time())))

    async def take_host_turn(self, host: str, within: float | None = None) -> float | None:
        turn = await self._writer.run(lambda c: Written(scheduler.take_host_turn(c, host, time.time(), within)))
        return turn.value  # type: ignore[no-any-return]

    async def _renew_leases_forever(self) -> None:
        """Keep the leases of the jobs this process's workers hold from lapsing: a third of a lease between renewals."""
        while True:
            await asyncio.sleep(self._lease_seconds / 3)
            owners = list(self._held)
            if not owners:
                continue
            until = time.time() + self._lease_seconds
            try:
                await self._writer.run(lambda c, owners=owners, until=until: Written(scheduler.renew(c, owners, until)))
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the next round tries again; a lapsed lease only means a second delivery
                self._renewing_failed.report("renewing job leases failed", self.translate_error(error) or error)

    async def _forget_idle_hosts(self) -> None:
        """The rows of idle hosts whose spacing and Crawl-delay have passed, ``HOSTS_PER_STEP`` a transaction."""
        after: str | None = ""
        while after is not None:

            def step(connection: sqlite3.Connection, after: str = after) -> Written:
                return Written(scheduler.forget_idle_hosts(connection, after, HOSTS_PER_STEP, time.time()))

            after = (await self._writer.run(step)).value

    async def queue_depth(self) -> int:
        return await self._reader.run(scheduler.queued_count)

    async def _announce_jobs(self) -> None:
        self._jobs_generation += 1
        async with self._jobs_changed:
            self._jobs_changed.notify()

    def _completing(
        self, job: Job, operation: Callable[[sqlite3.Connection, float], Written]
    ) -> Callable[[sqlite3.Connection], Written]:
        """``operation`` followed by the job's removal and its host slot freed, in one transaction."""

        def completing(connection: sqlite3.Connection) -> Written:
            now = time.time()
            written = operation(connection, now)
            scheduler.complete(connection, job, now)
            return written

        return completing


def no_room(path: str) -> bool:
    """Whether the database's disk is (all but) full. SQLite says "disk I/O error", not "full", when the disk cannot
    take the pages of its shared-memory index (``-shm``): a service started on a full disk with a database there said
    store_unavailable, where the operator needs to read that the disk is full."""
    try:
        return shutil.disk_usage(Path(path).parent).free < NO_ROOM_BYTES
    except OSError:
        return False
