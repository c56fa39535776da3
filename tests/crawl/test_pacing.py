"""A job's wait for a host's turn in its Crawl-delay, against the in-memory store's scheduler."""

from __future__ import annotations

import asyncio
import time

import pytest

from linkcast.crawl.pacing import Pacing, TurnTooFar, take_turn
from linkcast.settings import Settings
from linkcast.store.memory import MemoryStore

HOST = "b.example:443"


async def test_a_request_whose_turn_is_further_than_the_longest_crawl_delay_is_not_made() -> None:
    """Turns queued a minute ahead (many redirects into one host asking a long delay) held each worker longer than
    the one before; waiting --max-crawl-delay at most (0.05 s here) and then asking, the requests whose turns were
    further came together. Such a request is not made, and its turn is left to the next (a minute away, not two)."""
    store = MemoryStore(Settings(store="memory://"))
    await store.open()
    try:
        await store.set_crawl_delay(HOST, 60.0, time.time() + 3600)  # the next turn a minute away
        with pytest.raises(TurnTooFar):
            await take_turn(store, HOST, max_wait=0.05)
        assert 0 < (await store.take_host_turn(HOST) or 0) <= 60
    finally:
        await store.close()


async def test_a_job_s_own_request_waits_for_its_host_s_turn_a_delay_longer_than_the_longest_crawl_delay_at_most() -> (
    None
):
    """The job's host was claimed for it, one such job at a time: its next request waits for the turn another's hop
    may have taken just before (--max-crawl-delay, then a delay), not for a turn a minute ahead."""
    store = MemoryStore(Settings(store="memory://"))
    await store.open()
    try:
        await store.set_crawl_delay(HOST, 60.0, time.time() + 3600)  # the next turn a minute away
        async with asyncio.timeout(10):  # uncapped: a minute
            assert await Pacing(store, HOST, 0.05, 0.05, just_asked=True).before_request()
    finally:
        await store.close()
