"""Wakes the endpoints whose events arrive: the event log's tail, read by every process that runs workers, turned
into ``Store.wake_webhooks`` for the requests of each batch. The outbox's cursor, not this tail, is what makes
delivery complete: a wake that is lost (a process that stopped, a store that failed) only delays an endpoint until
the next wake, and every active endpoint is woken once when a waker starts or recovers.

While the store has no endpoint at all (most deployments, most of the time), the events are not looked up: whether it
has one is asked at most every ``ENDPOINTS_CHECK_SECONDS``, and always once more after events were passed over. When
the answer turns to yes, every endpoint is woken: one made (by this process or another) before events it was passed
over for gets them, at most that much later; one made after them never wanted them (its cursor starts at the log's
end)."""

from __future__ import annotations

import asyncio
import logging
import time

from linkcast.logs import RepeatedProblem
from linkcast.store.base import Store

log = logging.getLogger(__name__)

WAIT_SECONDS = 5.0
RETRY_SECONDS = 1.0
ENDPOINTS_CHECK_SECONDS = 0.25


class WebhookWaker:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._failing = RepeatedProblem(log)
        self._endpoints_exist = False
        self._checked_at = float("-inf")
        self._passed_over = False  # events came while no endpoint was known: ask again before trusting that

    async def run_forever(self) -> None:
        after: int | None = None
        while True:
            try:
                if after is None:
                    after = await self.store.last_event_id()
                    await self.store.wake_webhooks(None)  # what came while no waker was reading
                wait = ENDPOINTS_CHECK_SECONDS if self._passed_over else WAIT_SECONDS
                events = await self.store.wait_events(after, wait)
                if events:
                    after = events[-1].id
                if not (events or self._passed_over):
                    continue
                if await self._any_endpoint() and events:
                    await self.store.wake_webhooks({event.request_id for event in events})
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self._failing.report("waking webhook endpoints failed; retrying", error)
                after = None
                await asyncio.sleep(RETRY_SECONDS)

    async def _any_endpoint(self) -> bool:
        """Whether the store has an endpoint, asked at most every ``ENDPOINTS_CHECK_SECONDS``; when the answer turns
        to yes, every endpoint is woken (for the events passed over meanwhile)."""
        now = time.monotonic()
        if now - self._checked_at < ENDPOINTS_CHECK_SECONDS:
            self._passed_over = self._passed_over or not self._endpoints_exist
            return self._endpoints_exist
        existed, self._checked_at, self._passed_over = self._endpoints_exist, now, False
        self._endpoints_exist = bool((await self.store.list_webhooks(None, 1)).items)
        if self._endpoints_exist and not existed:
            await self.store.wake_webhooks(None)
        return self._endpoints_exist
