"""The SQLite backend's WebSub subscriptions (``websub``): one row per feed, changed only by compare-and-swap on
its version, and its job in the scheduler, due at the row's ``due_at``."""

from __future__ import annotations

import dataclasses
import sqlite3
import time

from linkcast.core.events import FEED_JOB, WEBSUB_JOB, Job
from linkcast.core.feeds import FeedRecord
from linkcast.core.flows import feed_flow
from linkcast.core.inputs import host_key
from linkcast.core.websub import Subscription
from linkcast.store.sqlite import scheduler
from linkcast.store.sqlite.core import SQLiteCore, Written
from linkcast.store.sqlite.feeds import COLUMNS as FEED_COLUMNS
from linkcast.store.sqlite.feeds import record_of_row


def _load(connection: sqlite3.Connection, feed_id: str) -> Subscription | None:
    row = connection.execute("SELECT body, version FROM websub WHERE feed_id = ?", (feed_id,)).fetchone()
    return Subscription.from_json(row[0], int(row[1])) if row else None


def _schedule(connection: sqlite3.Connection, feed_id: str, now: float) -> None:
    """The subscription's queued job replaced by one due at its ``due_at`` (a running one is left to finish)."""
    scheduler.drop_jobs_of(connection, WEBSUB_JOB, feed_id, now)
    found = _load(connection, feed_id)
    if found is not None and found.due_at is not None:
        host, flow = host_key(found.hub), feed_flow(feed_id)
        scheduler.enqueue(connection, WEBSUB_JOB, feed_id, found.hub, host, now, None, found.due_at, flow)


def _load_with_feed(connection: sqlite3.Connection, feed_id: str) -> tuple[FeedRecord, Subscription | None] | None:
    row = connection.execute(
        f"SELECT {', '.join(f'feeds.{c}' for c in FEED_COLUMNS)}, websub.body, websub.version "
        "FROM feeds LEFT JOIN websub USING (feed_id) WHERE feeds.feed_id = ?",
        (feed_id,),
    ).fetchone()
    if row is None:
        return None
    *columns, body, version = row
    return record_of_row(columns), Subscription.from_json(body, int(version)) if body is not None else None


class SQLiteWebSub(SQLiteCore):
    def _preread(self, connection: sqlite3.Connection, job: Job) -> Job:
        if job.kind == FEED_JOB:
            return dataclasses.replace(job, preread=(_load_with_feed(connection, job.request_id),))
        return super()._preread(connection, job)

    async def get_feed_and_subscription(self, feed_id: str) -> tuple[FeedRecord, Subscription | None] | None:
        return await self._reader.run(lambda connection: _load_with_feed(connection, feed_id))

    async def get_subscription(self, feed_id: str) -> Subscription | None:
        return await self._reader.run(lambda connection: _load(connection, feed_id))

    async def swap_subscription(self, feed_id: str, expected_version: int, new: Subscription | None) -> bool:
        def operation(connection: sqlite3.Connection) -> Written:
            row = connection.execute("SELECT version FROM websub WHERE feed_id = ?", (feed_id,)).fetchone()
            if (int(row[0]) if row else 0) != expected_version:
                return Written(False)
            if new is None:
                connection.execute("DELETE FROM websub WHERE feed_id = ?", (feed_id,))
            else:
                connection.execute(
                    "INSERT INTO websub (feed_id, version, due_at, body) VALUES (?, ?, ?, ?) ON CONFLICT (feed_id) "
                    "DO UPDATE SET version = excluded.version, due_at = excluded.due_at, body = excluded.body",
                    (feed_id, expected_version + 1, new.due_at, new.to_json().decode()),
                )
            _schedule(connection, feed_id, time.time())
            return Written(True)

        swapped: bool = (await self._writer.run(operation)).value
        await self._announce_jobs()
        return swapped

    async def finish_subscription_job(self, job: Job) -> None:
        self.forget(job)

        def operation(connection: sqlite3.Connection) -> Written:
            now = time.time()
            scheduler.complete(connection, job, now)
            _schedule(connection, job.request_id, now)
            return Written()

        await self._writer.run(operation)
        await self._announce_jobs()
