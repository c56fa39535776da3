"""The handler of ``webhook`` jobs: one per endpoint, queued when its events arrive (``waker.py``) or when its next
delivery is due. A run reads new events into the outbox and sends what is due, one at a time, in event-id order.

A run does not hold a worker: the job is handed to a task of its own and the worker goes back to the queue at once;
the task waits for room in this process's pool (``--webhook-concurrency``) before it sends anything. So endpoints
that take ``--webhook-timeout`` to fail delay only webhook deliveries, never a page fetch, even when they fill the
pool: a worker that waited for room there (as it once did) was a worker taken from every other kind of job. The job
stays leased (the store renews its lease) until the run finishes it; a process that dies mid-run leaves it to lapse
and be run again elsewhere, so the delivery that was in flight is sent again, with the same ``webhook-id``. Runs
waiting for room are one per endpoint at most (an endpoint has one job).
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
import time
from collections import OrderedDict
from collections.abc import Callable

from linkcast.core.events import Job
from linkcast.core.webhooks import DELIVERY_PENDING, ENDPOINT_ACTIVE, Delivery, Endpoint
from linkcast.fetch import Fetcher
from linkcast.logs import RepeatedProblem
from linkcast.memory_budget import MemoryBudget
from linkcast.metrics import Metrics
from linkcast.settings import Settings
from linkcast.store.base import Store
from linkcast.store_refusals import StoreRefusals, give_back, refused_by_the_store
from linkcast.webhooks.attempt import Answer, endpoint_after, judge, send
from linkcast.webhooks.outbox import fill_outbox
from linkcast.webhooks.payload_memory import keep_in_hand

log = logging.getLogger(__name__)

# A run hands its worker slot back after this many deliveries or seconds (fairness between endpoints).
MAX_PER_RUN = 100
RUN_SECONDS = 1.0
SAVE_TRIES = 5
# Deliveries taken while the store refused them, kept to be recorded before their endpoints next send (see below).
UNRECORDED_KEPT = 256


class WebhookJobs:
    def __init__(self, settings: Settings, store: Store, fetcher: Fetcher, metrics: Metrics) -> None:
        self.settings = settings
        self.store = store
        self.fetcher = fetcher
        self.metrics = metrics
        self._slots = asyncio.Semaphore(max(1, settings.webhook_concurrency))
        self._payloads = MemoryBudget(settings.webhook_memory_bytes)
        self._running: set[asyncio.Task[None]] = set()
        self._failing = RepeatedProblem(log)
        self._refusals = StoreRefusals(store)
        # Per endpoint, the delivery its receiver took while the store refused to record it (full, unreachable), with
        # the attempts it was sent at and its endpoint's created_at: recorded before the endpoint's next run here
        # sends anything, so that it is not sent again (at most one each: a run stops at the first refusal).
        # Bounded (UNRECORDED_KEPT, the oldest forgotten): an endpoint removed meanwhile never runs here again, and its
        # entry, with its payload, would stay; one forgotten costs at most that delivery sent once more.
        self._unrecorded: OrderedDict[str, tuple[Delivery, int, float]] = OrderedDict()

    async def process(self, job: Job) -> None:
        """Start the endpoint's run, which waits for room in the pool, and return without waiting for it."""
        task = asyncio.create_task(self._run(job), name=f"webhook-{job.request_id}")
        self._running.add(task)
        task.add_done_callback(self._running.discard)

    async def stop(self, grace: float) -> None:
        """Let runs finish within ``grace`` seconds; the rest are cancelled and their jobs given back."""
        if self._running:
            _done, pending = await asyncio.wait(set(self._running), timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    async def _run(self, job: Job) -> None:
        try:
            async with self._slots:
                next_at = await self._deliver_due(job.request_id)
                await self.store.finish_webhook_job(job, next_at)
            self._refusals.stored(job)
        except asyncio.CancelledError:  # the process stops: due again at once, and no death of a worker (not counted)
            await asyncio.shield(give_back(self.store, job, retry_at=time.time()))
            raise
        except Exception as error:  # the store failed: the job goes back (or its lease lapses) and runs again
            self._failing.report(f"webhook endpoint {job.request_id}: storing a delivery failed", error)
            if refused_by_the_store(error):  # full, unreachable: not sent again until it may take the outcome
                await self._refusals.give_back_for_later(job)
            else:
                await give_back(self.store, job)

    async def _deliver_due(self, endpoint_id: str) -> float | None:
        """Send what is due, in order; when the endpoint's job should run next (None: when woken)."""
        endpoint = await self.store.get_webhook(endpoint_id)
        await self._record_what_was_delivered(endpoint_id, endpoint)
        if endpoint is None or endpoint.state != ENDPOINT_ACTIVE:
            return None
        started, sent, delivered = time.monotonic(), 0, 0
        try:
            while True:
                filled = await fill_outbox(self.store, endpoint_id, self._payloads)
                if not filled.pending:
                    return time.time() if filled.behind else None
                for due in keep_in_hand(filled.pending):
                    now = time.time()
                    if due.delivery.next_try > now:
                        return due.delivery.next_try
                    if sent >= MAX_PER_RUN or time.monotonic() - started >= RUN_SECONDS:
                        return now
                    # As it is now: a DELETE, a change of URL or a rotated secret while the last POST was on its way
                    # holds for the rest of the run (its deliveries were read with the endpoint as it was then). One
                    # deleted and made again under its id is another endpoint: these deliveries are not its own.
                    current = await self.store.get_webhook(endpoint_id)
                    if current is None or current.state != ENDPOINT_ACTIVE or current.created_at != endpoint.created_at:
                        return None
                    endpoint = current
                    sent += 1
                    async with self._payloads.held(due.size):
                        delivery = due.delivery
                        if not due.in_hand:
                            reread = await self.store.get_webhook_delivery(endpoint_id, delivery.event_id)
                            if reread is None or reread.ended:  # the endpoint was removed, or a retry sent it
                                return time.time()
                            delivery = reread
                        answer = await send(self.fetcher, self.settings, endpoint, delivery)
                        if answer.ok:
                            delivered += 1
                            await self._record_success(endpoint, delivery, answer, time.time())
                            continue
                        await self._flush(endpoint, delivered)
                        delivered = 0
                        return await self._record_failure(endpoint, delivery, answer)
        finally:
            await self._flush(endpoint, delivered)

    async def _record_success(self, endpoint: Endpoint, delivery: Delivery, answer: Answer, now: float) -> None:
        self.metrics.webhook_attempts.labels("delivered").inc()
        outcome = judge(delivery, answer, None, self.settings, now).delivery
        try:
            await self.store.save_webhook_delivery(outcome, expected_attempts=delivery.attempts)
        except Exception as error:
            if refused_by_the_store(error):
                self._unrecorded[endpoint.endpoint_id] = (outcome, delivery.attempts, endpoint.created_at)
                while len(self._unrecorded) > UNRECORDED_KEPT:
                    self._unrecorded.popitem(last=False)
            raise

    async def _record_what_was_delivered(self, endpoint_id: str, endpoint: Endpoint | None) -> None:
        """The delivery this endpoint's receiver took while the store refused it, recorded now (if the endpoint is
        still the one it was sent to: one deleted and made again under its id has deliveries of its own)."""
        unrecorded = self._unrecorded.get(endpoint_id)
        if unrecorded is None:
            return
        outcome, attempts, created_at = unrecorded
        if endpoint is not None and endpoint.created_at == created_at:
            await self.store.save_webhook_delivery(outcome, expected_attempts=attempts)  # refused: tried next run
        del self._unrecorded[endpoint_id]

    async def _record_failure(self, endpoint: Endpoint, delivery: Delivery, answer: Answer) -> float | None:
        """Store the failed attempt and the endpoint's health; when to try next (None: the endpoint is disabled)."""
        self.metrics.webhook_attempts.labels("failed").inc()
        now = time.time()
        current = await self.store.get_webhook(endpoint.endpoint_id)
        same = current is not None and current.created_at == endpoint.created_at
        failing_since = current.failing_since if current and same else None
        outcome = judge(delivery, answer, failing_since, self.settings, now)
        if current is not None and same and current.url != endpoint.url:
            # The answer of a URL the endpoint has left (a PUT moved it while the POST was on its way): it says
            # nothing of the new one (an old server's 410 Gone, its failures), so the event goes there now.
            left = dataclasses.replace(outcome.delivery, state=DELIVERY_PENDING, next_try=now)
            await self.store.save_webhook_delivery(left, expected_attempts=delivery.attempts)
            return now
        await self.store.save_webhook_delivery(outcome.delivery, expected_attempts=delivery.attempts)
        await self._change(endpoint, lambda e: endpoint_after(e, outcome, answer, now))
        if outcome.disable is not None:
            log.warning("webhook endpoint %s disabled: %s", endpoint.endpoint_id, outcome.disable)
            return None
        return outcome.delivery.next_try if outcome.delivery.state == DELIVERY_PENDING else now

    async def _flush(self, endpoint: Endpoint, delivered: int) -> None:
        """The run's successes in the endpoint's health, in one change."""
        if delivered:
            now = time.time()

            def healthy(e: Endpoint) -> Endpoint:
                return dataclasses.replace(
                    e, delivered=e.delivered + delivered, last_success_at=now, failing_since=None
                )

            await self._change(endpoint, healthy)

    async def _change(self, endpoint: Endpoint, change: Callable[[Endpoint], Endpoint]) -> None:
        """``change`` applied to the endpoint as stored, retried when another change (the API's) came first; not to
        one deleted and made again under its id since (another ``created_at``): the run's attempts were not its."""
        for _ in range(SAVE_TRIES):
            current = await self.store.get_webhook(endpoint.endpoint_id)
            if current is None or current.created_at != endpoint.created_at:
                return
            if await self.store.save_webhook(change(current), current.version):
                return
