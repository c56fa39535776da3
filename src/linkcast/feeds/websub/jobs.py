"""The handler of ``websub`` jobs: one per subscription, due when it next has to act (``lifecycle.next_step``).

Every change goes through ``Store.swap_subscription`` from the version read: the hub often verifies while its
answer to our request is still on the way, on any replica, and that verification must not be undone. The request
itself is sent only once its pending mode is stored, so that the verification finds what it confirms.
"""

from __future__ import annotations

import logging
import time

from linkcast.core.events import Job
from linkcast.core.feeds import FEED_GONE
from linkcast.core.websub import MODE_SUBSCRIBE, MODE_UNSUBSCRIBE, Subscription
from linkcast.feeds.schedule import Bounds
from linkcast.feeds.websub.hub_requests import ask_hub
from linkcast.feeds.websub.lifecycle import Step, asked, asking, failed, moved_to, next_hub, next_step
from linkcast.fetch import Fetcher
from linkcast.logs import loggable_url
from linkcast.metrics import Metrics
from linkcast.settings import Settings
from linkcast.store.base import Store

log = logging.getLogger(__name__)

# Steps taken in one run at most: a run asks the hub at most once, and a lost race is taken again from what won.
MAX_STEPS = 4


class WebSubJobs:
    def __init__(self, settings: Settings, store: Store, fetcher: Fetcher, metrics: Metrics) -> None:
        self.settings = settings
        self.store = store
        self.fetcher = fetcher
        self.metrics = metrics
        self.bounds = Bounds(settings.feed_min_interval, settings.feed_max_interval, settings.feed_default_interval)

    async def process(self, job: Job) -> None:
        asked_once = False
        for _ in range(MAX_STEPS):
            sub = await self.store.get_subscription(job.request_id)
            if sub is None:
                break
            now = time.time()
            record = await self.store.get_feed(sub.feed_id)
            # A feed gone (410) is watched no more, like a removed one: its hub is asked to stop, not renewed.
            watched = record is not None and record.state != FEED_GONE
            step = next_step(sub, watched, now, self.settings.websub_verify_timeout)
            if step is Step.WAIT or (step is Step.ASK and asked_once):
                break
            if step is Step.ASK:
                asked_once = True
                if await self._ask(sub, now):
                    break
            else:  # lost to another change: the next round starts from it
                await self.store.swap_subscription(sub.feed_id, sub.version, self._after(step, sub, now))
        await self.store.finish_subscription_job(job)

    def _after(self, step: Step, sub: Subscription, now: float) -> Subscription | None:
        """The subscription once ``step`` (anything but asking) is taken."""
        if step is Step.RENEW:
            following = next_hub(sub)
            return moved_to(sub, following, now) if following is not None else asking(sub, MODE_SUBSCRIBE, now)
        if step is Step.UNSUBSCRIBE:
            return asking(sub, MODE_UNSUBSCRIBE, now)
        if step is Step.GIVE_UP and sub.pending == MODE_SUBSCRIBE:
            timeout = self.settings.websub_verify_timeout
            return failed(sub, f"the hub did not verify the subscription within {timeout:g} s", now, self.bounds)
        return None  # FORGET, or an unsubscription the hub never verified: nothing more to ask

    async def _ask(self, sub: Subscription, now: float) -> bool:
        """Send the pending request, and record what the hub said; True once recorded (or overtaken by a change)."""
        mode = sub.pending or MODE_SUBSCRIBE
        refused = await ask_hub(self.fetcher, sub, mode, self.settings.public_url, self.settings.websub_lease)
        self.metrics.websub_requests.labels(mode, "refused" if refused else "accepted").inc()
        log.info(
            "asked %s to %s feed %s: %s", loggable_url(sub.hub), mode, sub.feed_id, refused or "accepted",
        )  # fmt: skip
        if refused is None:
            after: Subscription | None = asked(sub, time.time(), self.settings.websub_verify_timeout)
        elif mode == MODE_UNSUBSCRIBE:
            after = None  # the feed is gone; its callback answers 410 to whatever the hub still sends
        else:
            after = failed(sub, refused, time.time(), self.bounds)
        # Lost to a change (the hub verified already, on any replica): that change stands, and it queued the next.
        await self.store.swap_subscription(sub.feed_id, sub.version, after)
        return True
