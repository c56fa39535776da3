"""The in-memory backend's WebSub subscriptions: one per feed in a dictionary, each with its job in the queue."""

from __future__ import annotations

import dataclasses
import time

from linkcast.core.events import WEBSUB_JOB, Job
from linkcast.core.feeds import FeedRecord
from linkcast.core.flows import feed_flow
from linkcast.core.inputs import host_key
from linkcast.core.websub import Subscription
from linkcast.settings import Settings
from linkcast.store.memory.feeds import MemoryFeeds


class MemoryWebSub(MemoryFeeds):
    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self._subscriptions: dict[str, Subscription] = {}

    async def get_subscription(self, feed_id: str) -> Subscription | None:
        found = self._subscriptions.get(feed_id)
        return dataclasses.replace(found) if found else None

    async def get_feed_and_subscription(self, feed_id: str) -> tuple[FeedRecord, Subscription | None] | None:
        record = await self.get_feed(feed_id)
        return (record, await self.get_subscription(feed_id)) if record is not None else None

    async def swap_subscription(self, feed_id: str, expected_version: int, new: Subscription | None) -> bool:
        stored = self._subscriptions.get(feed_id)
        if (stored.version if stored else 0) != expected_version:
            return False
        if new is None:
            self._subscriptions.pop(feed_id, None)
        else:
            self._subscriptions[feed_id] = dataclasses.replace(new, version=expected_version + 1)
        self._schedule_subscription(feed_id)
        return True

    async def finish_subscription_job(self, job: Job) -> None:
        self._jobs.complete(job)
        self._schedule_subscription(job.request_id)

    def _schedule_subscription(self, feed_id: str) -> None:
        """The subscription's queued job replaced by one due at its ``due_at`` (a running one is left to finish)."""
        self._jobs.drop_jobs_of(WEBSUB_JOB, feed_id)
        found = self._subscriptions.get(feed_id)
        if found is not None and found.due_at is not None:
            now = time.time()
            host, due = host_key(found.hub), found.due_at
            self._jobs.enqueue(WEBSUB_JOB, feed_id, found.hub, host, now, not_before=due, flow=feed_flow(feed_id))
            self._announce_job()
