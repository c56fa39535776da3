"""A job's wait for a host's turn in its Crawl-delay, against the in-memory store's scheduler."""

from __future__ import annotations

import asyncio
import time

from linkcast.crawl.pacing import Pacing, take_turn
from linkcast.settings import Settings
from linkcast.store.memory import MemoryStore

HOST = "b.example:443"


async def test_a_turn_taken_far_ahead_holds_the_worker_no_longer_than_the_longest_crawl_delay() -> None:
    """Turns queued a minute ahead (many redirects into one host asking a long delay) held each worker longer than
    the one before: a worker now waits --max-crawl-delay at most (0.05 s here), and the turn is taken all the same."""
    store = MemoryStore(Settings(store="memory://"))
    await store.open()
    try:
        await store.set_crawl_delay(HOST, 60.0, time.time() + 3600)  # the next turn a minute away
        async with asyncio.timeout(10):  # uncapped: a minute, then two
            assert await take_turn(store, HOST, max_wait=0.05)
            assert await Pacing(store, HOST, 60.0, 0.05, just_asked=True).before_request()
        assert await store.take_host_turn(HOST) > 150  # both turns were taken: the next is three delays away
    finally:
        await store.close()
