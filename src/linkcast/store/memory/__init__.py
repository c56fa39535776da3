"""The in-memory backend: for tests and throwaway runs (``memory://``). Nothing survives the process.

Assembled like the other backends, a layer per concern: ``core`` (requests, jobs on ``fair_queue.FairQueue``, the
event log), ``crawls``, ``feeds``, ``websub`` (subscriptions) and ``webhooks`` (endpoints and
outboxes).
"""

from __future__ import annotations

import time

from linkcast.store.memory.webhooks import MemoryWebhooks


class MemoryStore(MemoryWebhooks):
    async def prune(self, older_than: float, keep_events: int) -> int:
        dropped = await self._prune_requests_and_events(older_than, keep_events)
        self._prune_crawls(older_than)
        self._prune_feed_entries(older_than)
        self._prune_ended_deliveries(older_than)
        self._jobs.forget_idle_hosts(time.time())
        return dropped


__all__ = ["MemoryStore"]
