"""The in-memory backend's webhook endpoints, their outboxes, and their jobs in the queue."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Collection

from linkcast.core.events import WEBHOOK_JOB, Job, Page
from linkcast.core.flows import webhook_flow
from linkcast.core.inputs import host_key
from linkcast.core.webhooks import ENDPOINT_ACTIVE, KEEP_ENDED_DELIVERIES, SCOPED_ID, Delivery, Endpoint
from linkcast.settings import Settings
from linkcast.store.listing import LISTING_BYTES, within_budget
from linkcast.store.memory.websub import MemoryWebSub


class MemoryWebhooks(MemoryWebSub):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._endpoints: dict[str, Endpoint] = {}
        self._outboxes: dict[str, dict[int, Delivery]] = {}
        self._woken: set[str] = set()  # endpoints woken while their job was queued or running

    async def save_webhook(self, endpoint: Endpoint, expected_version: int) -> bool:
        stored = self._endpoints.get(endpoint.endpoint_id)
        if (stored.version if stored else 0) != expected_version:
            return False
        cursor = stored.cursor if stored else endpoint.cursor
        self._endpoints[endpoint.endpoint_id] = dataclasses.replace(
            endpoint, version=expected_version + 1, cursor=cursor
        )
        self._outboxes.setdefault(endpoint.endpoint_id, {})
        return True

    async def get_webhook(self, endpoint_id: str) -> Endpoint | None:
        found = self._endpoints.get(endpoint_id)
        return dataclasses.replace(found) if found else None

    async def list_webhooks(self, after: str | None, limit: int) -> Page:
        ids = sorted(i for i in self._endpoints if after is None or i > after)
        chosen = ids[:limit]
        items = [dataclasses.replace(self._endpoints[i]) for i in chosen]
        return Page(items, chosen[-1] if len(ids) > limit else None)

    async def count_webhooks(self) -> int:
        return sum(1 for endpoint_id in self._endpoints if not SCOPED_ID.fullmatch(endpoint_id))

    async def delete_webhook(self, endpoint_id: str, expected_version: int | None = None) -> bool:
        stored = self._endpoints.get(endpoint_id)
        if stored is None or expected_version not in (None, stored.version):
            return False
        del self._endpoints[endpoint_id]
        self._outboxes.pop(endpoint_id, None)
        self._woken.discard(endpoint_id)
        self._jobs.drop_jobs_of(WEBHOOK_JOB, endpoint_id)
        return True

    async def add_webhook_deliveries(
        self, endpoint_id: str, expected_cursor: int, cursor: int, deliveries: list[Delivery]
    ) -> bool:
        stored = self._endpoints.get(endpoint_id)
        if stored is None or stored.cursor != expected_cursor:
            return False
        stored.cursor = cursor
        outbox = self._outboxes.setdefault(endpoint_id, {})
        for delivery in deliveries:
            outbox.setdefault(delivery.event_id, dataclasses.replace(delivery))
        return True

    async def pending_webhook_deliveries(
        self, endpoint_id: str, limit: int, max_bytes: int = LISTING_BYTES
    ) -> list[Delivery]:
        outbox = self._outboxes.get(endpoint_id, {})
        pending = (outbox[i] for i in sorted(i for i, delivery in outbox.items() if not delivery.ended))
        taken, _ = within_budget(pending, limit, max_bytes, _payload_bytes)
        return [dataclasses.replace(delivery) for delivery in taken]

    async def save_webhook_delivery(self, delivery: Delivery, expected_attempts: int | None = None) -> None:
        outbox = self._outboxes.get(delivery.endpoint_id)
        if outbox is None or delivery.event_id not in outbox:
            return
        stored = outbox[delivery.event_id]
        if expected_attempts is not None and (
            stored.ended or stored.attempts != expected_attempts or stored.created_at != delivery.created_at
        ):
            return  # another run recorded this attempt, or the delivery is another one (``Store``)
        outbox[delivery.event_id] = dataclasses.replace(delivery)
        ended = sorted(event_id for event_id, found in outbox.items() if found.ended)
        for event_id in ended[: max(0, len(ended) - KEEP_ENDED_DELIVERIES)]:
            del outbox[event_id]

    async def webhook_deliveries(
        self, endpoint_id: str, after: str | None, limit: int, max_bytes: int = LISTING_BYTES
    ) -> Page:
        outbox = self._outboxes.get(endpoint_id, {})
        start = int(after) if after else 0
        deliveries = (outbox[event_id] for event_id in sorted(event_id for event_id in outbox if event_id > start))
        taken, more = within_budget(deliveries, limit, max_bytes, _payload_bytes)
        return Page([dataclasses.replace(d) for d in taken], str(taken[-1].event_id) if more else None)

    async def get_webhook_delivery(self, endpoint_id: str, event_id: int) -> Delivery | None:
        found = self._outboxes.get(endpoint_id, {}).get(event_id)
        return dataclasses.replace(found) if found else None

    async def wake_webhooks(self, request_ids: Collection[str] | None) -> None:
        wanted = None if request_ids is None else set(request_ids)
        for endpoint in self._endpoints.values():
            watched = endpoint.request_ids
            if wanted is None or watched is None or not wanted.isdisjoint(watched):
                self._queue_webhook(endpoint, time.time())

    async def wake_webhook(self, endpoint_id: str) -> None:
        endpoint = self._endpoints.get(endpoint_id)
        if endpoint is not None:
            self._queue_webhook(endpoint, time.time())

    def _queue_webhook(self, endpoint: Endpoint, at: float) -> None:
        if endpoint.state != ENDPOINT_ACTIVE:
            return
        now = time.time()
        flow = webhook_flow(endpoint.endpoint_id)
        if self._jobs.enqueue(
            WEBHOOK_JOB, endpoint.endpoint_id, "", host_key(endpoint.url), now, not_before=at, flow=flow
        ):
            self._announce_job()
        else:
            self._woken.add(endpoint.endpoint_id)

    async def finish_webhook_job(self, job: Job, next_at: float | None) -> None:
        self._jobs.complete(job)
        endpoint = self._endpoints.get(job.request_id)
        if endpoint is None:
            return
        if job.request_id in self._woken:
            self._woken.discard(job.request_id)
            next_at = time.time()
        if next_at is not None:
            self._queue_webhook(endpoint, next_at)

    def _prune_ended_deliveries(self, older_than: float) -> None:
        for outbox in self._outboxes.values():
            for event_id in [i for i, delivery in outbox.items() if delivery.ended and delivery.ended_at < older_than]:
                del outbox[event_id]


def _payload_bytes(delivery: Delivery) -> int:
    return len(delivery.payload)
