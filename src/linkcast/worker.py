"""Workers: take a job, fetch the page, extract its links, publish exactly one terminal event."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid

from linkcast.core.errors import FetchError, LinkcastError
from linkcast.core.events import Job, error_body, result_body, started_body
from linkcast.extraction import ExtractionPool
from linkcast.fetch import Fetcher
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
        self.extraction = ExtractionPool(settings.parse_processes, settings.parse_timeout)
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
            except Exception:
                log.exception("taking a job failed; retrying")
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
            except Exception:
                # The store failed (e.g. Redis unreachable): keep this worker alive, give the job back if the store
                # lets us, and otherwise leave it to be reclaimed once the store is back.
                log.exception("processing %s failed in the store; returning it to the queue", job.url)
                with contextlib.suppress(Exception):
                    await self.store.release(job)
                await asyncio.sleep(1.0)
            finally:
                self._busy.discard(task)

    async def process(self, job: Job) -> None:
        await self.store.start(job, started_body(job.request_id, job.url, job.attempt))
        began = time.perf_counter()
        timings: dict[str, float] = {}
        try:
            page = await self.fetcher.fetch(job.url)
            timings["fetch_ms"] = round((time.perf_counter() - began) * 1000, 3)
            self.metrics.fetch_seconds.observe(timings["fetch_ms"] / 1000)
            parse_began = time.perf_counter()
            # Large pages are parsed in child processes with a deadline, so that no markup blocks the event loop.
            # One link past the cap is enough to know the page was truncated.
            links = await self.extraction.extract(
                page.body, page.final_url, page.content_type, self.settings.max_links + 1
            )
            timings["extract_ms"] = round((time.perf_counter() - parse_began) * 1000, 3)
            self.metrics.extract_seconds.observe(timings["extract_ms"] / 1000)
            truncated = len(links) > self.settings.max_links
            body = result_body(
                job.request_id,
                job.url,
                final_url=page.final_url,
                status_code=page.status_code,
                links=links[: self.settings.max_links] if truncated else links,
                links_truncated=truncated,
                timings=timings,
            )
            outcome = "ok"
        except LinkcastError as error:
            timings.setdefault("fetch_ms", round((time.perf_counter() - began) * 1000, 3))
            body = error_body(job.request_id, job.url, error, timings=timings)
            outcome = error.code
        except Exception as error:  # a bug must still end the request, never leave it hanging
            log.exception("processing %s failed", job.url)
            failure = FetchError(f"internal error: {type(error).__name__}", code="internal")
            body = error_body(job.request_id, job.url, failure, timings=timings)
            outcome = failure.code
        if await self.store.finish(job, body) is not None:
            self.metrics.fetches.labels(outcome).inc()
