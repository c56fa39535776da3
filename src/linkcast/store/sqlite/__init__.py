"""The SQLite backend (the default, ``sqlite:///PATH``): jobs, requests, crawls, feeds and the event log in one file.

The store is assembled from one module per concern, each a layer over ``core.SQLiteCore`` (the connections, errors
and jobs): ``events`` (the log), ``requests`` (single pages), ``crawls`` (whole sites), ``feeds``, ``websub`` (feeds'
subscriptions), ``webhooks`` (endpoints and their outboxes). ``scheduler`` is the fair queue in SQL; ``schema``
what is on disk.
"""

from __future__ import annotations

from linkcast.store.sqlite.crawls import SQLiteCrawls
from linkcast.store.sqlite.events import SQLiteEvents
from linkcast.store.sqlite.feeds import SQLiteFeeds
from linkcast.store.sqlite.requests import SQLiteRequests
from linkcast.store.sqlite.schema import database_path
from linkcast.store.sqlite.webhooks import SQLiteWebhooks
from linkcast.store.sqlite.websub import SQLiteWebSub


class SQLiteStore(SQLiteWebhooks, SQLiteWebSub, SQLiteFeeds, SQLiteCrawls, SQLiteRequests, SQLiteEvents):
    async def prune(self, older_than: float, keep_events: int) -> int:
        dropped = await self._prune_events(older_than, keep_events)
        await self._prune_requests(older_than, keep_events)
        await self._prune_crawls(older_than)
        await self._prune_feed_entries(older_than)
        await self._prune_ended_deliveries(older_than)
        await self._forget_idle_hosts()
        return dropped


__all__ = ["SQLiteStore", "database_path"]
