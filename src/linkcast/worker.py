"""Workers: take a job, fetch the page, extract its links, publish exactly one terminal event."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid

from linkcast.core.errors import FetchError, LinkcastError, StoreFull, StoreUnavailable
from linkcast.core.events import EventBody, Job, error_body, result_body, started_body
from linkcast.core.links import LinkLimits
from linkcast.extraction import ExtractionPool
from linkcast.fetch import Fetcher
from linkcast.logs import RepeatedProblem, loggable_url
from linkcast.metrics import Metrics
from linkcast.settings import Settings
from linkcast.store.base import Store

log = logging.getLogger(__name__)


class WorkerPool:
    """``count`` concurrent workers in this process, sharing one fetcher."""

    def __init__(self, settings: Settings, store: Store, fetcher: Fetcher, metrics: Metrics) -> None:
        self.settings = settings
        self.store = store
        self.fetcher = fetcher
        self.metrics = metrics
        limits = LinkLimits(settings.max_links, settings.max_result_bytes)
        self.extraction = ExtractionPool(settings.parse_processes, settings.parse_timeout, limits)
        self._taking_failed = RepeatedProblem(log)
        self._storing_failed = RepeatedProblem(log)
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
        await self.extraction.close()

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
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    await asyncio.shield(self.store.release(job))
                raise
            except Exception as error:
                # The store failed (unreachable, full): give the job back if it lets us; if not, its lease lapses
                # and it is handed out again once the store is back (up to the attempt cap).
                self._storing_failed.report(f"storing the outcome of {loggable_url(job.url)} failed", error)
                try:
                    await self.store.release(job)
                except Exception:
                    self.store.forget(job)
                await asyncio.sleep(1.0)
            finally:
                self._busy.discard(task)

    async def process(self, job: Job) -> None:
        """Fetch, extract and store exactly one terminal event; a store failure propagates (the job is retried)."""
        await self.store.append_started(job, started_body(job.request_id, job.url, job.attempt))
        body, outcome, elapsed_ms = await self._outcome(job)
        try:
            event = await self.store.finish(job, body)
        except (StoreUnavailable, StoreFull):
            raise
        except Exception as error:
            # This outcome cannot be stored (too large for the backend, or a bug): end the request with an error
            # that can, rather than hand the job out again to fail the same way.
            log.exception("storing the outcome of %s failed; ending it with an error", loggable_url(job.url))
            failure = FetchError(f"the outcome could not be stored: {type(error).__name__}", code="store_failed")
            body, outcome = error_body(job.request_id, job.url, failure, timings={}), failure.code
            event = await self.store.finish(job, body)
        if event is not None:
            self.metrics.fetches.labels(outcome).inc()
        log.info("fetched %s: %s in %.0f ms", loggable_url(job.url), outcome, elapsed_ms)

    async def _outcome(self, job: Job) -> tuple[EventBody, str, float]:
        """The job's terminal event body, its outcome code and the milliseconds it took; never raises (but cancel)."""
        began = time.perf_counter()
        timings: dict[str, float] = {}
        try:
            page = await self.fetcher.fetch(job.url)
            timings["fetch_ms"] = round((time.perf_counter() - began) * 1000, 3)
            self.metrics.fetch_seconds.observe(timings["fetch_ms"] / 1000)
            parse_began = time.perf_counter()
            # Large pages are parsed in child processes with a deadline, so that no markup blocks the event loop.
            found = await self.extraction.extract(page.body, page.final_url, page.content_type)
            timings["extract_ms"] = round((time.perf_counter() - parse_began) * 1000, 3)
            self.metrics.extract_seconds.observe(timings["extract_ms"] / 1000)
            body = result_body(
                job.request_id,
                job.url,
                final_url=page.final_url,
                status_code=page.status_code,
                links=found.links,
                links_truncated=found.truncated,
                timings=timings,
            )
            outcome = "ok"
        except LinkcastError as error:
            timings.setdefault("fetch_ms", round((time.perf_counter() - began) * 1000, 3))
            body = error_body(job.request_id, job.url, error, timings=timings)
            outcome = error.code
        except Exception as error:  # a bug must still end the request, never leave it hanging
            log.exception("processing %s failed", loggable_url(job.url))
            failure = FetchError(f"internal error: {type(error).__name__}", code="internal")
            body = error_body(job.request_id, job.url, failure, timings=timings)
            outcome = failure.code
        return body, outcome, (time.perf_counter() - began) * 1000
