"""Everything one linkcast process runs, started and stopped in one place for both entry points.

``linkcast serve`` runs the web app around a ``Runtime``; ``linkcast worker`` runs one without the hub (it serves no
WebSocket clients). Either way: the store opens first and retention runs before anything else (what expired while the
process was down goes first), then the fetcher, the hub, the workers and the background tasks; stopping goes the
other way, each step bounded so that a stuck dependency cannot keep the process from exiting.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable

from linkcast.core.events import CRAWL_JOB, FEED_JOB, PAGE_JOB, WEBHOOK_JOB, WEBSUB_JOB
from linkcast.core.feeds import FeedRecord
from linkcast.core.links import LinkLimits
from linkcast.crawl.jobs import CrawlJobs
from linkcast.extraction import ExtractionPool
from linkcast.feeds.first_answers import FirstAnswers
from linkcast.feeds.jobs import FeedJobs
from linkcast.feeds.websub import Callbacks, Subscriptions, WebSubJobs
from linkcast.fetch import Fetcher
from linkcast.foreground import Foreground
from linkcast.hub import Hub
from linkcast.metrics import Metrics
from linkcast.page_jobs import PageJobs
from linkcast.replay_budget import ReplayBudget
from linkcast.settings import Settings
from linkcast.store import Store, open_store
from linkcast.webhooks import WebhookJobs, WebhookWaker
from linkcast.webhooks.retention import RequestWebhookPruner
from linkcast.worker import WorkerPool

log = logging.getLogger(__name__)

PRUNE_INTERVAL_SECONDS = 60.0
# The most any one step of stopping may take (the workers' own grace period comes first).
STOP_STEP_TIMEOUT = 5.0
WORKER_GRACE_SECONDS = 10.0


class Runtime:
    """The store, the fetcher, the workers, the metrics, and (for a serving process) the hub."""

    def __init__(self, settings: Settings, *, serves_clients: bool = True) -> None:
        self.settings = settings
        self.store: Store = open_store(settings)
        self.metrics = Metrics()
        self.fetcher = Fetcher(settings)
        # Every parse of a large document a site sent (pages, feeds, pages searched for their feed) runs in these.
        self.extraction = extraction = ExtractionPool(
            settings.parse_processes,
            settings.parse_timeout,
            LinkLimits(settings.max_links, settings.max_result_bytes),
            settings.parse_memory_bytes,
        )
        self.webhooks = WebhookJobs(settings, self.store, self.fetcher, self.metrics)
        self.webhook_pruner = RequestWebhookPruner(self.store)
        self.first_answers = FirstAnswers()  # a found feed's document, for its first poll (``feeds.first_answers``)
        # The PUTs of a feed under way here, by feed id and options: the same PUT sent again meanwhile waits for the
        # first's answer rather than find the feed again (``web.feeds.watch``).
        self.feeds_being_added: dict[tuple[str, bytes], asyncio.Future[tuple[FeedRecord, bool]]] = {}
        self.every_feed = asyncio.Lock()  # held by the export or import reading every feed here (``web.feeds``)
        self.foreground = Foreground()  # single requests on their way here, which background work lets pass
        handlers = {
            PAGE_JOB: PageJobs(self.store, self.fetcher, extraction, self.metrics, self.foreground),
            CRAWL_JOB: CrawlJobs(settings, self.store, self.fetcher, extraction, self.metrics, self.foreground),
            FEED_JOB: FeedJobs(settings, self.store, self.fetcher, extraction, self.metrics, self.first_answers),
            WEBSUB_JOB: WebSubJobs(settings, self.store, self.fetcher, self.metrics),
            WEBHOOK_JOB: self.webhooks,
        }
        self.subscriptions = Subscriptions(settings, self.store)
        self.callbacks = Callbacks(settings, self.store, extraction, self.metrics)
        self.workers = WorkerPool(self.store, handlers, self.foreground)
        replays = ReplayBudget(settings.replay_memory_bytes, settings.max_result_bytes)
        queues = (settings.client_queue_size, settings.client_queue_bytes)
        self.hub: Hub | None = Hub(self.store, queues[0], replays, queues[1]) if serves_clients else None
        self.draining = asyncio.Event()
        self._background: list[asyncio.Task[None]] = []
        self._started = False

    async def start(self) -> None:
        """Open and start everything; a failure (the store unreachable, say) is raised as the typed error."""
        if self._started:
            return
        self._started = True
        self.draining = asyncio.Event()
        await self.store.open()
        await self._prune_once()
        await self.fetcher.open()
        if self.hub is not None:
            await self.hub.start()
        self.workers.start(self.settings.workers)
        self._background.append(asyncio.create_task(self._prune_forever(), name="linkcast-prune"))
        if self.settings.workers > 0:  # a process that delivers wakes the endpoints whose events arrive
            waker = WebhookWaker(self.store).run_forever()
            self._background.append(asyncio.create_task(waker, name="linkcast-webhook-waker"))

    def drain(self) -> None:
        """Stop taking jobs at once (a signal came): running ones get the grace period, the rest are given back."""
        if not self.draining.is_set():
            self.draining.set()
            self._background.append(asyncio.create_task(self.workers.stop(WORKER_GRACE_SECONDS), name="drain"))

    async def stop(self) -> None:
        """Stop everything, in reverse order; safe to call twice, and on a runtime that failed to start."""
        if not self._started:
            return
        self._started = False
        self.draining.set()
        await self._bounded("stopping the workers", self.workers.stop(WORKER_GRACE_SECONDS), WORKER_GRACE_SECONDS)
        await self._bounded(
            "stopping webhook deliveries", self.webhooks.stop(WORKER_GRACE_SECONDS), WORKER_GRACE_SECONDS
        )
        for task in self._background:
            task.cancel()
        if self._background:
            await asyncio.wait(self._background, timeout=STOP_STEP_TIMEOUT)
        self._background.clear()
        if self.hub is not None:
            await self._bounded("stopping the hub", self.hub.stop())
        await self._bounded("stopping the extraction children", self.extraction.close())
        await self._bounded("closing the fetcher", self.fetcher.close())
        await self._bounded("closing the store", self.store.close())

    @staticmethod
    async def _bounded(what: str, step: Awaitable[None], grace: float = 0.0) -> None:
        try:
            async with asyncio.timeout(grace + STOP_STEP_TIMEOUT):
                await step
        except TimeoutError:
            log.error("%s took longer than %g s; going on without it", what, grace + STOP_STEP_TIMEOUT)
        except Exception as error:
            log.warning("%s failed: %s", what, error)

    async def _prune_once(self) -> None:
        """Drop what is older than ``--retain-days`` or beyond ``--retain-events`` (``Store.prune``), and the endpoints
        of requests gone."""
        try:
            cutoff = time.time() - self.settings.retain_days * 86400
            await self.store.prune(cutoff, self.settings.retain_events)
            await self.webhook_pruner.sweep()
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.warning("pruning failed: %s", error)

    async def _prune_forever(self) -> None:
        while True:
            await asyncio.sleep(PRUNE_INTERVAL_SECONDS)
            await self._prune_once()
