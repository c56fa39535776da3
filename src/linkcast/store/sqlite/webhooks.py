"""The SQLite backend's webhooks (``webhooks``, ``webhook_watch``, ``webhook_deliveries``): endpoints changed only by
compare-and-swap on their version, their outboxes, and their jobs in the scheduler."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Collection

from linkcast.core.events import WEBHOOK_JOB, Job, Page
from linkcast.core.flows import webhook_flow
from linkcast.core.inputs import host_key
from linkcast.core.webhooks import ENDPOINT_ACTIVE, KEEP_ENDED_DELIVERIES, SCOPED_SCOPES, Delivery, Endpoint
from linkcast.store.listing import LISTING_BYTES, within_budget
from linkcast.store.sqlite import scheduler
from linkcast.store.sqlite.core import SQLiteCore, Written
from linkcast.store.sqlite.events import delete_in_chunks

ENDPOINT_COLUMNS = "body, version, cursor"
# A step of the prune of ended deliveries by age (parameters: the cutoff, how many at most).
PRUNE_ENDED_DELIVERIES = (
    "DELETE FROM webhook_deliveries WHERE (endpoint_id, event_id) IN (SELECT endpoint_id, event_id "
    "FROM webhook_deliveries WHERE ended = 1 AND ended_at < ? ORDER BY ended_at LIMIT ?)"
)


def _endpoint(row: tuple[str, int, int] | None) -> Endpoint | None:
    return Endpoint.from_json(row[0], int(row[1]), int(row[2])) if row else None


def _queue(connection: sqlite3.Connection, endpoint_id: str, at: float) -> bool:
    """Queue the endpoint's job for ``at`` if it is active; one queued or running already is marked woken instead.
    True if a job was queued."""
    row = connection.execute(
        "SELECT host FROM webhooks WHERE endpoint_id = ? AND state = ?", (endpoint_id, ENDPOINT_ACTIVE)
    ).fetchone()
    if row is None:
        return False
    flow = webhook_flow(endpoint_id)
    if scheduler.enqueue(connection, WEBHOOK_JOB, endpoint_id, "", row[0], time.time(), None, at, flow):
        return True
    connection.execute("UPDATE webhooks SET woken = 1 WHERE endpoint_id = ?", (endpoint_id,))
    return False


class SQLiteWebhooks(SQLiteCore):
    async def save_webhook(self, endpoint: Endpoint, expected_version: int) -> bool:
        def operation(connection: sqlite3.Connection) -> Written:
            key = endpoint.endpoint_id
            row = connection.execute("SELECT version FROM webhooks WHERE endpoint_id = ?", (key,)).fetchone()
            if (int(row[0]) if row else 0) != expected_version:
                return Written(False)
            connection.execute(
                "INSERT INTO webhooks (endpoint_id, version, state, every_request, host, cursor, body) "
                "VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (endpoint_id) DO UPDATE SET version = excluded.version, "
                "state = excluded.state, every_request = excluded.every_request, host = excluded.host, "
                "body = excluded.body",
                (key, expected_version + 1, endpoint.state, endpoint.request_ids is None, host_key(endpoint.url),
                 endpoint.cursor, endpoint.to_json().decode()),
            )  # fmt: skip
            connection.execute("DELETE FROM webhook_watch WHERE endpoint_id = ?", (key,))
            connection.executemany(
                "INSERT OR IGNORE INTO webhook_watch (request_id, endpoint_id) VALUES (?, ?)",
                [(request_id, key) for request_id in endpoint.request_ids or ()],
            )
            return Written(True)

        saved: bool = (await self._writer.run(operation)).value
        return saved

    async def get_webhook(self, endpoint_id: str) -> Endpoint | None:
        def read(connection: sqlite3.Connection) -> Endpoint | None:
            query = f"SELECT {ENDPOINT_COLUMNS} FROM webhooks WHERE endpoint_id = ?"
            return _endpoint(connection.execute(query, (endpoint_id,)).fetchone())

        return await self._reader.run(read)

    async def list_webhooks(self, after: str | None, limit: int) -> Page:
        def read(connection: sqlite3.Connection) -> Page:
            rows = connection.execute(
                f"SELECT {ENDPOINT_COLUMNS} FROM webhooks WHERE endpoint_id > ? ORDER BY endpoint_id LIMIT ?",
                (after or "", limit + 1),
            ).fetchall()
            items = [_endpoint(row) for row in rows[:limit]]
            return Page(items, items[-1].endpoint_id if len(rows) > limit and items[-1] else None)

        return await self._reader.run(read)

    async def count_webhooks(self) -> int:
        def read(connection: sqlite3.Connection) -> int:
            # Counted on the primary key's index: every id, less those in the ranges of a request's ids ('~' is
            # 0x7e, so 'urls~' up to 'urls\x7f' holds exactly the ids starting 'urls~').
            ranges = " + ".join(
                "(SELECT COUNT(*) FROM webhooks WHERE endpoint_id >= ? AND endpoint_id < ?)" for _ in SCOPED_SCOPES
            )
            bounds = [bound for scope in SCOPED_SCOPES for bound in (f"{scope}~", f"{scope}\x7f")]
            row = connection.execute(f"SELECT (SELECT COUNT(*) FROM webhooks) - ({ranges})", bounds).fetchone()
            return int(row[0])

        return await self._reader.run(read)

    async def delete_webhook(self, endpoint_id: str, expected_version: int | None = None) -> bool:
        def operation(connection: sqlite3.Connection) -> Written:
            gone = connection.execute(
                "DELETE FROM webhooks WHERE endpoint_id = ?1 AND (?2 IS NULL OR version = ?2)",
                (endpoint_id, expected_version),
            ).rowcount
            if not gone:
                return Written(False)
            connection.execute("DELETE FROM webhook_watch WHERE endpoint_id = ?", (endpoint_id,))
            connection.execute("DELETE FROM webhook_deliveries WHERE endpoint_id = ?", (endpoint_id,))
            scheduler.drop_jobs_of(connection, WEBHOOK_JOB, endpoint_id, time.time())
            return Written(bool(gone))

        deleted: bool = (await self._writer.run(operation)).value
        return deleted

    async def add_webhook_deliveries(
        self, endpoint_id: str, expected_cursor: int, cursor: int, deliveries: list[Delivery]
    ) -> bool:
        def operation(connection: sqlite3.Connection) -> Written:
            moved = connection.execute(
                "UPDATE webhooks SET cursor = ? WHERE endpoint_id = ? AND cursor = ?",
                (cursor, endpoint_id, expected_cursor),
            ).rowcount
            if not moved:
                return Written(False)
            connection.executemany(
                "INSERT OR IGNORE INTO webhook_deliveries (endpoint_id, event_id, ended, body, ended_at) "
                "VALUES (?, ?, ?, ?, ?)",
                [(endpoint_id, d.event_id, d.ended, d.to_json().decode(), _ended_at(d)) for d in deliveries],
            )
            return Written(True)

        added: bool = (await self._writer.run(operation)).value
        return added

    async def pending_webhook_deliveries(
        self, endpoint_id: str, limit: int, max_bytes: int = LISTING_BYTES
    ) -> list[Delivery]:
        def read(connection: sqlite3.Connection) -> list[Delivery]:
            rows = connection.execute(  # stepped row by row: only the rows taken are read
                "SELECT body FROM webhook_deliveries WHERE endpoint_id = ? AND ended = 0 ORDER BY event_id LIMIT ?",
                (endpoint_id, limit),
            )
            return [Delivery.from_json(row[0]) for row in within_budget(rows, limit, max_bytes, _body_bytes)[0]]

        return await self._reader.run(read)

    async def save_webhook_delivery(self, delivery: Delivery, expected_attempts: int | None = None) -> None:
        def operation(connection: sqlite3.Connection) -> Written:
            key = delivery.endpoint_id
            saved = connection.execute(
                "UPDATE webhook_deliveries SET ended = ?1, body = ?2, ended_at = ?6 WHERE endpoint_id = ?3 "
                "AND event_id = ?4 AND (?5 IS NULL OR (ended = 0 AND json_extract(body, '$.attempts') = ?5 "
                "AND json_extract(body, '$.created_at') = ?7))",
                (
                    delivery.ended,
                    delivery.to_json().decode(),
                    key,
                    delivery.event_id,
                    expected_attempts,
                    _ended_at(delivery),
                    delivery.created_at,
                ),
            ).rowcount
            if saved and delivery.ended:
                connection.execute(
                    "DELETE FROM webhook_deliveries WHERE endpoint_id = ? AND ended = 1 AND event_id <= ("
                    "SELECT event_id FROM webhook_deliveries WHERE endpoint_id = ? AND ended = 1 "
                    "ORDER BY event_id DESC LIMIT 1 OFFSET ?)",
                    (key, key, KEEP_ENDED_DELIVERIES),
                )
            return Written()

        await self._writer.run(operation)

    async def webhook_deliveries(
        self, endpoint_id: str, after: str | None, limit: int, max_bytes: int = LISTING_BYTES
    ) -> Page:
        def read(connection: sqlite3.Connection) -> Page:
            rows = connection.execute(  # stepped row by row: only the rows taken are read
                "SELECT body FROM webhook_deliveries WHERE endpoint_id = ? AND event_id > ? ORDER BY event_id LIMIT ?",
                (endpoint_id, int(after) if after else 0, limit + 1),
            )
            taken, more = within_budget(rows, limit, max_bytes, _body_bytes)
            items = [Delivery.from_json(row[0]) for row in taken]
            return Page(items, str(items[-1].event_id) if more else None)

        return await self._reader.run(read)

    async def get_webhook_delivery(self, endpoint_id: str, event_id: int) -> Delivery | None:
        def read(connection: sqlite3.Connection) -> Delivery | None:
            row = connection.execute(
                "SELECT body FROM webhook_deliveries WHERE endpoint_id = ? AND event_id = ?", (endpoint_id, event_id)
            ).fetchone()
            return Delivery.from_json(row[0]) if row else None

        return await self._reader.run(read)

    async def wake_webhooks(self, request_ids: Collection[str] | None) -> None:
        def read(connection: sqlite3.Connection) -> set[str]:
            if request_ids is None:
                rows = connection.execute("SELECT endpoint_id FROM webhooks WHERE state = ?", (ENDPOINT_ACTIVE,))
                return {row[0] for row in rows}
            rows = connection.execute(
                "SELECT endpoint_id FROM webhooks WHERE state = ? AND every_request = 1", (ENDPOINT_ACTIVE,)
            )
            woken = {row[0] for row in rows}
            for request_id in set(request_ids):
                found = connection.execute("SELECT endpoint_id FROM webhook_watch WHERE request_id = ?", (request_id,))
                woken.update(row[0] for row in found)
            return woken

        # Read first, on the reader: most batches of events wake nobody, and cost the writer nothing then.
        woken = await self._reader.run(read)
        if not woken:
            return

        def operation(connection: sqlite3.Connection) -> Written:
            now = time.time()
            return Written(sum(_queue(connection, endpoint_id, now) for endpoint_id in woken))

        if (await self._writer.run(operation)).value:
            await self._announce_jobs()

    async def wake_webhook(self, endpoint_id: str) -> None:
        if (await self._writer.run(lambda c: Written(_queue(c, endpoint_id, time.time())))).value:
            await self._announce_jobs()

    async def _prune_ended_deliveries(self, older_than: float) -> None:
        """Deliveries that ended before ``older_than``, ``PRUNE_CHUNK`` a transaction, through their index."""
        await delete_in_chunks(self._writer, PRUNE_ENDED_DELIVERIES, older_than)

    async def finish_webhook_job(self, job: Job, next_at: float | None) -> None:
        self.forget(job)

        def operation(connection: sqlite3.Connection) -> Written:
            now = time.time()
            scheduler.complete(connection, job, now)
            row = connection.execute("SELECT woken FROM webhooks WHERE endpoint_id = ?", (job.request_id,)).fetchone()
            if row is None:
                return Written(False)
            at = now if row[0] else next_at
            connection.execute("UPDATE webhooks SET woken = 0 WHERE endpoint_id = ?", (job.request_id,))
            return Written(at is not None and _queue(connection, job.request_id, at))

        if (await self._writer.run(operation)).value:
            await self._announce_jobs()


def _ended_at(delivery: Delivery) -> float | None:
    return delivery.ended_at if delivery.ended else None


def _body_bytes(row: tuple[str | bytes]) -> int:
    return len(row[0])
