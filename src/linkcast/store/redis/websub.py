"""The Redis backend's WebSub subscriptions (``websub_scripts.py`` has the keys and the scripts): a hub's
verification may land on any API replica, and every change is one compare-and-swap script."""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from linkcast.core.events import FEED_JOB, Job
from linkcast.core.feeds import FeedRecord
from linkcast.core.inputs import host_key
from linkcast.core.websub import Subscription
from linkcast.settings import Settings
from linkcast.store.redis.core import hash_fields
from linkcast.store.redis.feeds import RedisFeeds, feed_record
from linkcast.store.redis.websub_scripts import FINISH, SWAP


class RedisWebSub(RedisFeeds):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.register({"swap_subscription": SWAP, "finish_subscription": FINISH})

    def _preread(self, job: Job, read: list[Any]) -> Job:
        if job.kind == FEED_JOB:
            version, body = read[1]
            return dataclasses.replace(job, preread=(_feed_and_subscription(hash_fields(read[0]), version, body),))
        return super()._preread(job, read)

    async def get_subscription(self, feed_id: str) -> Subscription | None:
        version, body = await self.redis.hmget(self.key("websub", feed_id), "v", "b")
        return Subscription.from_json(body, int(version)) if body else None

    async def get_feed_and_subscription(self, feed_id: str) -> tuple[FeedRecord, Subscription | None] | None:
        async with self.redis.pipeline(transaction=True) as pipe:  # one round trip, one moment
            pipe.hgetall(self.feed_key(feed_id))
            pipe.hmget(self.key("websub", feed_id), "v", "b")
            fields, (version, body) = await pipe.execute()
        return _feed_and_subscription(fields, version, body)

    async def swap_subscription(self, feed_id: str, expected_version: int, new: Subscription | None) -> bool:
        body = new.to_json() if new else b""
        due = repr(new.due_at) if new and new.due_at is not None else ""
        hub = new.hub if new else ""
        answer = await self.run_script(
            "swap_subscription", repr(time.time()), self.concurrency, feed_id, expected_version, body, due, hub,
            host_key(hub) if hub else "",
        )  # fmt: skip
        return bool(answer)

    async def finish_subscription_job(self, job: Job) -> None:
        self.forget(job)
        job_id, owner = self.receipt_of(job)
        await self.run_script("finish_subscription", repr(time.time()), self.concurrency, job_id, owner, job.request_id)


def _feed_and_subscription(
    fields: dict[bytes, bytes], version: bytes | None, body: bytes | None
) -> tuple[FeedRecord, Subscription | None] | None:
    """The feed's hash and its subscription's version and body as read: None if the feed is not there (removed)."""
    if not fields:
        return None
    return feed_record(fields), Subscription.from_json(body, int(version or 0)) if body else None
