"""The Redis backend's webhooks (``webhook_scripts.py`` has the keys and the scripts): every change is one script, so
that the endpoint, its outbox, its cursor and its job never disagree, whichever replica or worker changes them."""

from __future__ import annotations

import time
from collections.abc import Collection

import orjson

from linkcast.core.events import Job, Page
from linkcast.core.inputs import host_key
from linkcast.core.webhooks import KEEP_ENDED_DELIVERIES, SCOPED_SCOPES, Delivery, Endpoint
from linkcast.settings import Settings
from linkcast.store.listing import LISTING_BYTES, within_budget
from linkcast.store.redis.core import READ_AT_ONCE
from linkcast.store.redis.events import SCAN_PAGE
from linkcast.store.redis.webhook_scripts import (
    ADD,
    DELETE,
    FILL_ENDED,
    FINISH,
    PRUNE_ENDED,
    SAVE,
    SAVE_DELIVERY,
    WAKE,
    WAKE_ONE,
    WAKE_PAGE,
)
from linkcast.store.redis.websub import RedisWebSub

# Endpoints one step of waking them all wakes at most (about 5 ms).
WAKE_AT_ONCE = 256
# Requests whose endpoints one step wakes at most: the waker's batch of events may name 10,000, each watched by up to
# every endpoint (100 of 1,000 requests each, at the default caps: 40 ms in one script).
REQUESTS_AT_ONCE = 500


class RedisWebhooks(RedisWebSub):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.register(
            {
                "save_webhook": SAVE,
                "delete_webhook": DELETE,
                "add_webhook_deliveries": ADD,
                "save_webhook_delivery": SAVE_DELIVERY,
                "wake_webhooks": WAKE,
                "wake_every_webhook": WAKE_PAGE,
                "wake_webhook": WAKE_ONE,
                "finish_webhook": FINISH,
                "prune_ended_deliveries": PRUNE_ENDED,
                "fill_ended_deliveries": FILL_ENDED,
            }
        )

    async def save_webhook(self, endpoint: Endpoint, expected_version: int) -> bool:
        watched = orjson.dumps(endpoint.request_ids or [])
        answer = await self.run_script(
            "save_webhook", endpoint.endpoint_id, expected_version, endpoint.to_json(), endpoint.state,
            host_key(endpoint.url), int(endpoint.request_ids is None), endpoint.cursor, watched,
        )  # fmt: skip
        return bool(answer)

    async def get_webhook(self, endpoint_id: str) -> Endpoint | None:
        version, body, cursor = await self.redis.hmget(self.key("wh", endpoint_id), "v", "b", "c")
        return Endpoint.from_json(body, int(version), int(cursor)) if body else None

    async def list_webhooks(self, after: str | None, limit: int) -> Page:
        start = f"({after}" if after else "-"
        ids = await self.redis.zrangebylex(self.key("whids"), start, "+", start=0, num=limit + 1)
        items = []
        for raw in ids[:limit]:
            found = await self.get_webhook(raw.decode())
            if found is not None:
                items.append(found)
        return Page(items, ids[limit - 1].decode() if len(ids) > limit else None)

    async def count_webhooks(self) -> int:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zcard(self.key("whids"))
            for scope in SCOPED_SCOPES:
                pipe.zlexcount(self.key("whids"), f"[{scope}~", f"({scope}\x7f")
            every, *scoped = await pipe.execute()
        return int(every) - sum(int(count) for count in scoped)

    async def delete_webhook(self, endpoint_id: str, expected_version: int | None = None) -> bool:
        expected = "" if expected_version is None else expected_version
        answer = await self.run_script("delete_webhook", repr(time.time()), self.concurrency, endpoint_id, expected)
        return bool(answer)

    async def add_webhook_deliveries(
        self, endpoint_id: str, expected_cursor: int, cursor: int, deliveries: list[Delivery]
    ) -> bool:
        triples = [part for d in deliveries for part in (d.event_id, _ended_at(d), d.to_json())]
        answer = await self.run_script("add_webhook_deliveries", endpoint_id, expected_cursor, cursor, *triples)
        return bool(answer)

    async def _deliveries(self, endpoint_id: str, event_ids: list[bytes], max_bytes: int) -> list[Delivery]:
        """The deliveries of ``event_ids``, ``READ_AT_ONCE`` read at a time, none once they hold
        ``max_bytes``; a page is cut after the one that crosses it (``listing.within_budget``)."""
        bodies: list[bytes] = []
        size = 0
        for start in range(0, len(event_ids), READ_AT_ONCE):
            if size > max_bytes:
                break
            part = await self.redis.hmget(self.key("whd", endpoint_id), event_ids[start : start + READ_AT_ONCE])
            found = [body for body in part if body]
            bodies += found
            size += sum(map(len, found))
        taken, _ = within_budget(bodies, len(bodies), max_bytes, len)
        return [Delivery.from_json(body) for body in taken]

    async def pending_webhook_deliveries(
        self, endpoint_id: str, limit: int, max_bytes: int = LISTING_BYTES
    ) -> list[Delivery]:
        event_ids = await self.redis.zrange(self.key("whp", endpoint_id), 0, limit - 1)
        return await self._deliveries(endpoint_id, event_ids, max_bytes)

    async def save_webhook_delivery(self, delivery: Delivery, expected_attempts: int | None = None) -> None:
        await self.run_script(
            "save_webhook_delivery", delivery.endpoint_id, delivery.event_id, _ended_at(delivery), delivery.to_json(),
            KEEP_ENDED_DELIVERIES, "" if expected_attempts is None else expected_attempts,
        )  # fmt: skip

    async def webhook_deliveries(
        self, endpoint_id: str, after: str | None, limit: int, max_bytes: int = LISTING_BYTES
    ) -> Page:
        start = f"({int(after)}" if after else "-inf"
        event_ids = await self.redis.zrangebyscore(self.key("wha", endpoint_id), start, "+inf", start=0, num=limit + 1)
        items = await self._deliveries(endpoint_id, event_ids[:limit], max_bytes)
        more = len(event_ids) > len(items) and bool(items)
        return Page(items, str(items[-1].event_id) if more else None)

    async def get_webhook_delivery(self, endpoint_id: str, event_id: int) -> Delivery | None:
        body = await self.redis.hget(self.key("whd", endpoint_id), str(event_id))
        return Delivery.from_json(body) if body else None

    async def wake_webhooks(self, request_ids: Collection[str] | None) -> None:
        if request_ids is not None:
            ids = sorted(set(request_ids))
            for start in range(0, len(ids), REQUESTS_AT_ONCE):
                part = ids[start : start + REQUESTS_AT_ONCE]
                await self.run_script("wake_webhooks", repr(time.time()), self.concurrency, *part)
            return
        last = await self.run_script("wake_every_webhook", repr(time.time()), self.concurrency, "", WAKE_AT_ONCE)
        while last:
            last = await self.run_script("wake_every_webhook", repr(time.time()), self.concurrency, last, WAKE_AT_ONCE)

    async def wake_webhook(self, endpoint_id: str) -> None:
        await self.run_script("wake_webhook", repr(time.time()), self.concurrency, endpoint_id)

    async def _prune_ended_deliveries(self, older_than: float) -> None:
        """Deliveries that ended before ``older_than``, ``SCAN_PAGE`` a script (those that ended before the time
        of each was kept are put in order first, once, an endpoint a script)."""
        done = await self.run_script("fill_ended_deliveries", "")
        while done:
            done = await self.run_script("fill_ended_deliveries", done)
        while await self.run_script("prune_ended_deliveries", repr(older_than), SCAN_PAGE) == SCAN_PAGE:
            pass

    async def finish_webhook_job(self, job: Job, next_at: float | None) -> None:
        self.forget(job)
        job_id, owner = self.receipt_of(job)
        at = repr(next_at) if next_at is not None else ""
        await self.run_script(
            "finish_webhook", repr(time.time()), self.concurrency, job_id, owner, job.request_id, at
        )  # fmt: skip


def _ended_at(delivery: Delivery) -> str:
    """When an ended delivery ended, as the scripts take it ('' for a pending one)."""
    return repr(delivery.ended_at) if delivery.ended else ""
