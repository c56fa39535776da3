"""Retention of the endpoints made with a request (``<scope>~<id>``): once their request, crawl or feed is gone
(pruned by ``--retain-days``, or removed) and nothing is pending, or the endpoint is disabled (what it holds pending
would wait for ever: nothing is left to enable it again for), they go too, so that they do not pile up one per
request. Endpoints made with ``PUT /webhooks`` stay until deleted."""

from __future__ import annotations

import time

from linkcast.core.webhooks import ENDPOINT_DISABLED, SCOPED_ID, Endpoint
from linkcast.store.base import Store

PAGE = 1000
# An endpoint is made just before its request is submitted: one younger than this is never taken for an orphan.
GRACE_SECONDS = 600.0
# Endpoints looked at per sweep, at most: each costs a read or two, and one endpoint is made per request that names a
# webhook, so a sweep of them all would grow with the service's history. The next sweep goes on where this one ended.
SWEEP_BUDGET = 5000


async def _exists(store: Store, scope: str, request_id: str) -> bool:
    if scope == "urls":
        return await store.get_request(request_id) is not None
    if scope == "crawls":
        return await store.get_crawl(request_id) is not None
    return await store.get_feed(request_id) is not None


class RequestWebhookPruner:
    """Deletes the endpoints of requests that no longer exist and that have nothing pending, a budget at a time."""

    def __init__(self, store: Store, budget: int = SWEEP_BUDGET) -> None:
        self.store = store
        self.budget = max(1, budget)
        self._after: str | None = None  # where the last sweep stopped (None: at the start)

    async def sweep(self) -> int:
        """Look at the next ``budget`` endpoints (from the first again after the last); how many went."""
        removed, looked, made_before = 0, 0, time.time() - GRACE_SECONDS
        while looked < self.budget:
            page = await self.store.list_webhooks(self._after, min(PAGE, self.budget - looked))
            looked += len(page.items)
            for endpoint in page.items:
                if SCOPED_ID.fullmatch(endpoint.endpoint_id) and endpoint.created_at <= made_before:
                    removed += await self._prune(endpoint)
            self._after = page.next
            if page.next is None:
                break
        return removed

    async def _prune(self, endpoint: Endpoint) -> int:
        """Remove a request's endpoint left over, unless a request of its id took it up since it was listed."""
        scope, _, request_id = endpoint.endpoint_id.partition("~")
        if await _exists(self.store, scope, request_id):
            return 0
        waiting = endpoint.state != ENDPOINT_DISABLED  # a disabled one's pending deliveries will never be sent
        if waiting and await self.store.pending_webhook_deliveries(endpoint.endpoint_id, 1):
            return 0
        return await self.store.delete_webhook(endpoint.endpoint_id, endpoint.version)
