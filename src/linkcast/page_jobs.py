"""Single requests (``PUT /urls``): fetch the page, extract its links, store exactly one terminal event."""

from __future__ import annotations

import logging
import time

from linkcast.core.errors import FetchError, LinkcastError, StoreFull, StoreUnavailable
from linkcast.core.events import PAGE_JOB, EventBody, Job, error_body, result_body, started_body
from linkcast.extraction import ExtractionPool
from linkcast.fetch import Fetcher
from linkcast.foreground import Foreground
from linkcast.logs import loggable_url
from linkcast.metrics import Metrics
from linkcast.store.base import Store

log = logging.getLogger(__name__)

# The data key of a page job that follows a feed's entry (``feeds``' ``follow``) rather than answers a request.
FOLLOWED_FEED = "feed_id"


def is_single_request(job: Job) -> bool:
    """Whether someone asked for this job's page (``PUT /urls``): it goes first (``foreground``). Every other job, a
    crawl's page, a feed's poll or an entry's page it follows, is background work that lets it pass."""
    return job.kind == PAGE_JOB and FOLLOWED_FEED not in job.data


class PageJobs:
    """The handler of ``page`` jobs."""

    def __init__(
        self,
        store: Store,
        fetcher: Fetcher,
        extraction: ExtractionPool,
        metrics: Metrics,
        foreground: Foreground | None = None,
    ) -> None:
        self.store = store
        self.fetcher = fetcher
        self.extraction = extraction
        self.metrics = metrics
        self.foreground = foreground or Foreground()

    async def process(self, job: Job) -> None:
        """Fetch, extract and store exactly one terminal event; a store failure propagates (the job is retried)."""
        if not is_single_request(job):  # a feed entry's page, followed: the pool let it pass as background work
            await self._process(job)
            return
        with self.foreground.serving(job.request_id):  # someone asked for this page: background work steps aside
            await self._process(job)

    async def _process(self, job: Job) -> None:
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
                **job.data,
            )
            outcome = "ok"
        except LinkcastError as error:
            timings.setdefault("fetch_ms", round((time.perf_counter() - began) * 1000, 3))
            body = error_body(job.request_id, job.url, error, timings=timings, **job.data)
            outcome = error.code
        except Exception as error:  # a bug must still end the request, never leave it hanging
            log.exception("processing %s failed", loggable_url(job.url))
            failure = FetchError(f"internal error: {type(error).__name__}", code="internal")
            body = error_body(job.request_id, job.url, failure, timings=timings, **job.data)
            outcome = failure.code
        return body, outcome, (time.perf_counter() - began) * 1000
