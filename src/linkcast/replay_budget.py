"""How many bytes of WebSocket replay (``?since=``) one process holds at once, whatever the number of clients.

A replay reads the retained log a page at a time and writes each page to the client's socket, where it stays in
memory until the client has read it. A page holds up to ``REPLAY_PAGE_BYTES`` of events plus the one that crosses it
(a result may hold ``--max-result-bytes`` of links, 8 MiB), and one address may open hundreds of connections: each
replaying such pages would take gigabytes. So each page is read only once it has its share of one budget per process
(``--replay-memory-bytes``), and gives the share back once the client has taken the page (the socket's buffer has
drained). A client that does not read holds its share until its connection ends: ``--send-stall-timeout`` cuts it
(uvicorn's keepalive ping only closes it, which waits for the unsent bytes: for ever). A replay that waits
``REPLAY_WAIT_SECONDS`` for a share is closed with 1013, try again later.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from linkcast.core.errors import LinkcastError
from linkcast.memory_budget import MemoryBudget

# Bytes of events a replay page stops after (the page also holds the event that crosses it).
REPLAY_PAGE_BYTES = 1024 * 1024
# What an event adds to its links: the URLs, status, timings... of a result.
EVENT_OVERHEAD_BYTES = 64 * 1024
# The longest a replay waits for its share before it is closed (try again later).
REPLAY_WAIT_SECONDS = 30.0


class ReplayBusy(LinkcastError):
    """Every byte of the replay budget is held by other clients' replays: reconnect later."""


class ReplayBudget:
    """One process's budget of replay bytes, handed out a page's worth at a time."""

    def __init__(self, total_bytes: int, max_result_bytes: int, wait: float = REPLAY_WAIT_SECONDS) -> None:
        # A page's worth: the events up to the page's size, and the one that crosses it at its largest.
        self.page_share = REPLAY_PAGE_BYTES + max_result_bytes + EVENT_OVERHEAD_BYTES
        self.bytes = MemoryBudget(max(total_bytes, self.page_share))  # one page at a time at least: replays go on
        self.wait = wait

    @contextlib.asynccontextmanager
    async def page(self) -> AsyncIterator[None]:
        """Hold a page's share while the page is read, sent, and taken by the client; ``ReplayBusy`` if the share
        does not come within ``wait`` seconds."""
        try:
            async with asyncio.timeout(self.wait):
                share = await self.bytes.take(self.page_share)
        except TimeoutError:
            raise ReplayBusy(
                f"every byte of this server's replay budget is held by other replays for {self.wait:g} s",
                code="replay_busy",
            ) from None
        try:
            yield
        finally:
            share.give_back()
