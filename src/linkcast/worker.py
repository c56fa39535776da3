"""Workers: take jobs of every kind from the store's fair scheduler and hand each to its kind's handler.

The pool owns what every kind shares: the loop that takes jobs, what happens when the store fails (the job is given
back, or its lease lapses), draining on shutdown. What a job does is its handler's (``page_jobs.PageJobs``,
``crawl.jobs.CrawlJobs``).
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Mapping
from typing import Protocol

from linkcast.core.errors import FetchError
from linkcast.core.events import Job
from linkcast.foreground import Foreground
from linkcast.logs import RepeatedProblem, loggable_url
from linkcast.page_jobs import is_single_request
from linkcast.store.base import Store
from linkcast.store_refusals import StoreRefusals, give_back, refused_by_the_store

log = logging.getLogger(__name__)


class JobHandler(Protocol):
    async def process(self, job: Job) -> None:
        """Do the job and store its outcome; a store failure propagates (the pool gives the job back)."""


class WorkerPool:
    """``count`` concurrent workers in this process, each taking the next job of any kind."""

    def __init__(
        self,
        store: Store,
        handlers: Mapping[str, JobHandler],
        foreground: Foreground | None = None,
    ) -> None:
        self.store = store
        self.handlers = handlers
        self.foreground = foreground or Foreground()
        self._taking_failed = RepeatedProblem(log)
        self._storing_failed = RepeatedProblem(log)
        self._refusals = StoreRefusals(store)
        self.name = f"worker-{uuid.uuid4().hex[:8]}"
        self._tasks: list[asyncio.Task[None]] = []
        self._busy: set[asyncio.Task[None]] = set()  # tasks processing a job (the others wait for one)
        self._draining = asyncio.Event()

    def start(self, count: int) -> None:
        self._tasks = [
            asyncio.create_task(self._run(f"{self.name}-{n}"), name=f"{self.name}-{n}") for n in range(count)
        ]

    async def stop(self, grace: float = 10.0) -> None:
        """Take no new jobs; let running ones finish within ``grace`` seconds, then return the rest to the queue."""
        self._draining.set()
        for task in self._tasks:
            if task not in self._busy:
                task.cancel()
        if not self._tasks:
            return
        _done, pending = await asyncio.wait(self._tasks, timeout=grace)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _run(self, worker_id: str) -> None:
        while not self._draining.is_set():
            try:
                job = await self.store.next_job(worker_id, timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self._taking_failed.report("taking a job failed; retrying", error)
                await asyncio.sleep(1.0)
                continue
            if job is None:
                continue
            task = asyncio.current_task()
            assert task is not None
            self._busy.add(task)
            try:
                await self.process(job)
                self._refusals.stored(job)
            except asyncio.CancelledError as cancelled:
                if task.cancelling() == 0:  # not our stop: a cancellation that leaked out of the job's own work
                    self._storing_failed.report(f"{loggable_url(job.url)} was cancelled by its own work", cancelled)
                    await self._give_back(job)
                    continue
                # Our stop: the job is due again at once, and this hand-out is not counted against its attempts (a
                # stop is no worker's death: five restarts during one slow page ended it in worker_lost).
                await asyncio.shield(give_back(self.store, job, retry_at=time.time()))
                raise
            except Exception as error:
                self._storing_failed.report(f"storing the outcome of {loggable_url(job.url)} failed", error)
                if refused_by_the_store(error):  # full, unreachable: the job runs again once it takes writes
                    await self._refusals.give_back_for_later(job)
                    await asyncio.sleep(1.0)
                else:  # a bug of the job's own: handed out again, up to the attempt cap
                    await self._give_back(job)
            finally:
                self._busy.discard(task)

    async def _give_back(self, job: Job) -> None:
        """The job back to the queue if the store lets us (if not, its lease lapses and it is handed out again, up to
        the attempt cap), and a pause before the next one."""
        await give_back(self.store, job)
        await asyncio.sleep(1.0)

    async def process(self, job: Job) -> None:
        handler = self.handlers.get(job.kind)
        if handler is None:  # a job of a kind this release does not know (a newer process queued it)
            await self.store.fail(job, FetchError(f"no worker here handles {job.kind!r} jobs", code="internal"))
            return
        if not is_single_request(job):  # background work (a crawl's page, a feed's poll...) lets them pass
            await self.foreground.step()
        await handler.process(job)
