"""The Redis backend (``redis://HOST:PORT/DB``): many API replicas and many worker processes share one Redis.

Every key is under ``--redis-prefix`` (``P``). The store is assembled from one module per concern, each a layer over
``core.RedisCore`` (connections, errors, the fair scheduler of every job: ``scheduler_scripts.py`` lists its keys):
``events`` (the log, ``P:events``, ``P:seq``, ``P:ev:<id>``), ``requests`` (single pages, ``P:req:<id>``,
``P:requests``, ``P:finished``), ``crawls`` (``crawl_scripts.py``: ``P:crawl:<id>`` and its sets), ``feeds``
(``feed_scripts.py``: ``P:feed:<id>`` and its seen-set and entries), ``websub`` (``websub_scripts.py``: a feed's
subscription, ``P:websub:<id>``), ``webhooks`` (``webhook_scripts.py``: endpoints, ``P:wh:<id>``, and their
outboxes). Every step that
must not be split (submit: record + job + ``accepted`` event; finish: terminal event + record + job done) is one Lua
script, so that a crash between two commands can never leave half a change, and two deliveries of the same job can
never both append a terminal event.
"""

from __future__ import annotations

from linkcast.store.redis.crawls import RedisCrawls
from linkcast.store.redis.events import INDEXED_REQUESTS_MAX
from linkcast.store.redis.requests import RedisRequests
from linkcast.store.redis.webhooks import RedisWebhooks


class RedisStore(RedisWebhooks, RedisCrawls, RedisRequests):
    async def prune(self, older_than: float, keep_events: int) -> int:
        dropped = await self._prune_events(older_than, keep_events)
        await self._prune_requests(older_than, keep_events)
        await self._prune_crawls(older_than)
        await self._prune_removed_feeds()
        await self._prune_feed_entries(older_than)
        await self._prune_ended_deliveries(older_than)
        return dropped


__all__ = ["INDEXED_REQUESTS_MAX", "RedisStore"]
