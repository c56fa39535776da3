"""What polls tell subscriptions and what subscriptions tell polls.

A poll that read the feed hands over the hubs and the topic it named (``noticed``; without a self URL, the topic is the
feed's URL): a feed that names a hub gets a subscription to the first one (or, with no ``--public-url``, a note saying
why it has none; the next hub named is asked once that one failed, ``lifecycle.next_hub``); a feed whose topic changed,
or that no longer names the subscription's hub, gets a new subscription in place of the old one (whose callback then
answers 410, so its hub stops). While a subscription is active the feed is polled at ``--feed-max-interval``, and again
when the lease would end (``pushing_until``), so that a renewal that failed falls back to polling. A removed feed's
subscription is unsubscribed from its hub (``feed_removed``), and so is that of a feed that names no hub any more:
renewed, it would go on slowing the feed's polls to ``--feed-max-interval`` for a hub that no longer pushes it.
"""

from __future__ import annotations

import logging
from dataclasses import replace

from linkcast.core.websub import MODE_UNSUBSCRIBE, PUSH_OFF, PUSH_UNSUBSCRIBING, Subscription
from linkcast.feeds.websub.lifecycle import asking, new_subscription, switched_off
from linkcast.logs import loggable_url
from linkcast.settings import Settings
from linkcast.store.base import Store

log = logging.getLogger(__name__)

SWAP_ROUNDS = 5
# Hubs of a feed a subscription keeps, to ask in turn (``lifecycle.next_hub``): publishers name one or two. A feed
# may name 100 of 8 KiB each, and the record holding them is written again at every push and every step.
MAX_HUBS = 5


def pushing_until(sub: Subscription | None, now: float) -> float | None:
    """When the feed's active subscription's lease ends, or None if it has none (``sub``: the feed's, if any)."""
    return sub.expires_at if sub is not None and sub.active(now) else None


class Subscriptions:
    def __init__(self, settings: Settings, store: Store) -> None:
        self.settings = settings
        self.store = store

    async def noticed(
        self, feed_id: str, hubs: list[str], topic: str | None, content_url: str, now: float, *, known: bool = True
    ) -> bool:
        """What a poll found: the feed's hubs and topic, and ``content_url``, the URL it read the feed from.
        ``known``: whether the feed had a subscription when the poll began (if not, one that names no hub has nothing
        to end, and the store is not asked). False if the subscription the poll began with is ended or replaced: its
        hub no longer pushes the feed, whatever its lease said, and the poll is not followed as a pushed feed's."""
        hubs = hubs[:MAX_HUBS]
        if not hubs:
            if known:  # the feed names no hub any more: its subscription ends (its hub is asked to stop)
                await self._end(feed_id, now, "names no hub any more")
            return False
        if not topic:
            return True
        hub = hubs[0]
        current = await self.store.get_subscription(feed_id)
        wanted = self._wanted(feed_id, hubs, topic, current, now)
        if wanted is None:  # the same subscription: only where the feed was read from, or its hubs, may have changed
            if current is not None and (current.content_url, current.hubs) != (content_url, hubs):
                # a lost race: the next poll retries
                changed = replace(current, content_url=content_url, hubs=hubs)
                await self.store.swap_subscription(feed_id, current.version, changed)
            return True
        wanted.content_url, wanted.hubs = content_url, hubs
        if await self.store.swap_subscription(feed_id, current.version if current else 0, wanted):
            log.info("feed %s names the hub %s (topic %s): %s", feed_id, hub, topic, wanted.state)
        return False

    async def feed_removed(self, feed_id: str, now: float) -> None:
        """Ask the hub to stop, if it may be pushing or about to; otherwise the subscription just goes."""
        await self._end(feed_id, now, "is removed or gone")

    async def _end(self, feed_id: str, now: float, why: str) -> None:
        """End the feed's subscription: unsubscribed from its hub if it may be pushing or about to, else forgotten."""
        for _ in range(SWAP_ROUNDS):
            sub = await self.store.get_subscription(feed_id)
            if sub is None or sub.state == PUSH_UNSUBSCRIBING:
                return
            live = sub.state != PUSH_OFF and (sub.active(now) or sub.pending is not None)
            after = asking(sub, MODE_UNSUBSCRIBE, now) if live else None
            if await self.store.swap_subscription(feed_id, sub.version, after):
                log.info("feed %s %s: its subscription to %s ends", feed_id, why, loggable_url(sub.hub))
                return

    def _wanted(
        self, feed_id: str, hubs: list[str], topic: str, current: Subscription | None, now: float
    ) -> Subscription | None:
        """The subscription the feed should have now, or None to leave the current one as it is: one to the first hub
        named, unless the current one is to any hub the feed names (its first may have failed: ``next_hub``)."""
        hub = hubs[0]
        if not self.settings.public_url:
            off = switched_off(feed_id, hub, topic)
            same = current is not None and (current.state, current.hub, current.topic) == (PUSH_OFF, hub, topic)
            return None if same else off
        keeps = current is not None and current.state not in (PUSH_OFF, PUSH_UNSUBSCRIBING)
        if keeps and current is not None and current.topic == topic and current.hub in hubs:
            return None
        return new_subscription(feed_id, hub, topic, now)
