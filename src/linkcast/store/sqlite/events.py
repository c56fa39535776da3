"""The SQLite backend's event log: appends are announced on commit, the newest events are served from memory.

Live delivery is in-process: every commit that appends events wakes ``wait_events`` at once (no polling timer); a
short cache of the newest events serves the hub's tail without reading them back.
"""

from __future__ import annotations

import asyncio
import bisect
import sqlite3
from collections.abc import Callable, Collection
from typing import Any

from linkcast.core.events import Event
from linkcast.store.listing import LISTING_BYTES, within_budget
from linkcast.store.sqlite.core import SQLiteCore, Written
from linkcast.store.sqlite.schema import event_from_row, first_event_id_in, last_event_id_in
from linkcast.store.sqlite.thread import SQLiteThread

# Events kept in memory for the hub's tail (bounded in count and in size); older ones are read from the file.
RECENT_EVENTS = 4096
RECENT_CHARS = 4 * 1024 * 1024
WAIT_BATCH = 10_000
# Rows deleted per transaction when pruning, so that appends never wait long behind a large prune.
PRUNE_CHUNK = 5000


def deleting(sql: str, params: tuple[Any, ...]) -> Callable[[sqlite3.Connection], Written]:
    """A write operation running the DELETE ``sql``; its value is the number of rows removed."""
    return lambda connection: Written(connection.execute(sql, params).rowcount)


async def delete_in_chunks(writer: SQLiteThread, sql: str, bound: object) -> int:
    """Run the DELETE ``sql`` (parameters: ``bound``, then how many rows at most) ``PRUNE_CHUNK`` rows a transaction,
    until a chunk falls short; the rows removed."""
    chunk = deleting(sql, (bound, PRUNE_CHUNK))
    dropped = 0
    while True:
        count = int((await writer.run(chunk)).value)
        dropped += count
        if count < PRUNE_CHUNK:
            return dropped


class SQLiteEvents(SQLiteCore):
    _recent: list[Event]
    _recent_chars: int
    _appended: asyncio.Event

    async def open(self) -> None:
        self._recent, self._recent_chars, self._appended = [], 0, asyncio.Event()
        await super().open()

    async def events_after(
        self,
        since: int,
        request_ids: Collection[str] | None = None,
        limit: int = 1000,
        until: int | None = None,
        max_bytes: int = LISTING_BYTES,
    ) -> list[Event]:
        upper = until if until is not None else 2**63 - 1
        params: list[Any]
        if request_ids is None:
            sql = "SELECT id, type, request_id, body FROM events WHERE id > ? AND id <= ? ORDER BY id LIMIT ?"
            params = [since, upper, limit]
        else:
            wanted = sorted(set(request_ids))
            marks = ",".join("?" * len(wanted))
            sql = (
                "SELECT id, type, request_id, body FROM events "
                f"WHERE request_id IN ({marks}) AND id > ? AND id <= ? ORDER BY id LIMIT ?"
            )
            params = [*wanted, since, upper, limit]

        def operation(connection: sqlite3.Connection) -> list[Event]:
            rows = connection.execute(sql, params)  # stepped row by row: only the rows taken are read
            return [event_from_row(row) for row in within_budget(rows, limit, max_bytes, lambda row: len(row[3]))[0]]

        return await self._reader.run(operation)

    async def wait_events(self, after: int, timeout: float) -> list[Event]:
        if self._last_id <= after:
            try:
                async with asyncio.timeout(timeout):
                    while self._last_id <= after:
                        await self._appended.wait()
            except TimeoutError:
                # Nothing appended by this process; another one may write to the file: look once, then report.
                return await self.events_after(after, limit=WAIT_BATCH)
        recent = self._recent
        if recent and recent[0].id <= after + 1:
            start = bisect.bisect_right(recent, after, key=lambda event: event.id)
            return recent[start : start + WAIT_BATCH]
        return await self.events_after(after, limit=WAIT_BATCH)

    def _on_commit(self, results: list[Any]) -> None:
        """Called on the event loop for each committed group, before any writer resumes: announce new events."""
        appended = [event for result in results if isinstance(result, Written) for event in result.events]
        if not appended:
            return
        self._recent.extend(appended)
        self._recent_chars += sum(len(event.json) for event in appended)
        if len(self._recent) > 2 * RECENT_EVENTS or self._recent_chars > 2 * RECENT_CHARS:
            # Trim to half the bounds at once, so that trimming is rare (amortised O(1) per event).
            cut, kept_chars = len(self._recent), 0
            while cut > 0 and len(self._recent) - cut < RECENT_EVENTS // 2:
                size = len(self._recent[cut - 1].json)
                if kept_chars + size > RECENT_CHARS // 2:
                    break
                kept_chars += size
                cut -= 1
            del self._recent[:cut]
            self._recent_chars = kept_chars
        self._last_id = max(self._last_id, appended[-1].id)
        self._appended.set()
        self._appended = asyncio.Event()

    async def last_event_id(self) -> int:
        return await self._reader.run(last_event_id_in)

    async def first_event_id(self) -> int:
        return await self._reader.run(first_event_id_in)

    async def _prune_events(self, older_than: float, keep_events: int) -> int:
        def cutoff(connection: sqlite3.Connection) -> int:
            by_count = last_event_id_in(connection) - keep_events
            young = connection.execute(
                "SELECT id FROM events WHERE created_at >= ? ORDER BY id LIMIT 1", (older_than,)
            ).fetchone()
            by_age = young[0] - 1 if young else last_event_id_in(connection)
            return max(by_count, by_age)

        last_dropped = await self._reader.run(cutoff)
        return await delete_in_chunks(
            self._writer,
            "DELETE FROM events WHERE id IN (SELECT id FROM events WHERE id <= ? ORDER BY id LIMIT ?)",
            last_dropped,
        )
