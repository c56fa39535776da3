"""Retention of the endpoints made with a request (``<scope>~<id>``): once their request, crawl or feed is gone
(pruned by ``--retain-days``, or removed) and nothing is pending, they go too, so that they do not pile up one per
request. Endpoints made with ``PUT /webhooks`` stay until deleted."""

from __future__ import annotations

import time

from linkcast.core.webhooks import SCOPED_ID
from linkcast.store.base import Store

PAGE = 1000
# An endpoint is made just before its request is submitted: one younger than this is never taken for an orphan.
GRACE_SECONDS = 600.0


async def _exists(store: Store, scope: str, request_id: str) -> bool:
    if scope == "urls":
        return await store.get_request(request_id) is not None
    if scope == "crawls":
        return await store.get_crawl(request_id) is not None
    return await store.get_feed(request_id) is not None


async def prune_request_webhooks(store: Store) -> int:
    """Delete the endpoints of requests that no longer exist and that have nothing pending; how many went."""
    removed, after, made_before = 0, None, time.time() - GRACE_SECONDS
    while True:
        page = await store.list_webhooks(after, PAGE)
        for endpoint in page.items:
            if not SCOPED_ID.fullmatch(endpoint.endpoint_id) or endpoint.created_at > made_before:
                continue
            scope, _, request_id = endpoint.endpoint_id.partition("~")
            if await _exists(store, scope, request_id):
                continue
            if await store.pending_webhook_deliveries(endpoint.endpoint_id, 1):
                continue
            removed += await store.delete_webhook(endpoint.endpoint_id)
        if page.next is None:
            return removed
        after = page.next
