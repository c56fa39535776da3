"""Wakes the endpoints whose events arrive: the event log's tail, read by every process that runs workers, turned
into ``Store.wake_webhooks`` for the requests of each batch. The outbox's cursor, not this tail, is what makes
delivery complete: a wake that is lost (a process that stopped, a store that failed) only delays an endpoint until
the next wake, and every active endpoint is woken once when a waker starts or recovers."""

from __future__ import annotations

import asyncio
import logging

from linkcast.logs import RepeatedProblem
from linkcast.store.base import Store

log = logging.getLogger(__name__)

WAIT_SECONDS = 5.0
RETRY_SECONDS = 1.0


class WebhookWaker:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._failing = RepeatedProblem(log)

    async def run_forever(self) -> None:
        after: int | None = None
        while True:
            try:
                if after is None:
                    after = await self.store.last_event_id()
                    await self.store.wake_webhooks(None)  # what came while no waker was reading
                events = await self.store.wait_events(after, WAIT_SECONDS)
                if events:
                    after = events[-1].id
                    await self.store.wake_webhooks({event.request_id for event in events})
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self._failing.report("waking webhook endpoints failed; retrying", error)
                after = None
                await asyncio.sleep(RETRY_SECONDS)
