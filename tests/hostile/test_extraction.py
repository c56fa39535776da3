"""Link extraction of large pages runs in child processes: a page past the deadline or a crashed child fails one
request, never the worker, and the next page is served by a fresh child."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator

import pytest

from linkcast.core.errors import FetchError
from linkcast.core.links import extract_links
from linkcast.extraction import INLINE_MAX_BYTES, ExtractionPool

BASE = "http://example.test/dir/page.html"
LARGE = ("".join(f"<p><a href='../l{n}'>{n}</a>" for n in range(20_000))).encode()
PATHOLOGICAL = b"<div>" * 100_000 + b"<a href=x>x</a>"


@pytest.fixture
async def pool() -> AsyncIterator[ExtractionPool]:
    extraction = ExtractionPool(processes=1, timeout=1.0)
    yield extraction
    await extraction.close()


async def test_large_pages_give_the_same_links_in_a_child(pool: ExtractionPool) -> None:
    assert len(LARGE) > INLINE_MAX_BYTES
    assert await pool.extract(LARGE, BASE, "text/html") == extract_links(LARGE, BASE, "text/html")
    assert pool._children, "the large page was not sent to a child"


async def test_a_page_past_the_deadline_fails_and_the_next_one_is_served(pool: ExtractionPool) -> None:
    with pytest.raises(FetchError) as raised:
        await pool.extract(PATHOLOGICAL, BASE, "text/html")
    assert raised.value.code == "too_complex"
    assert await pool.extract(LARGE, BASE, "text/html") == extract_links(LARGE, BASE, "text/html")


async def test_a_cancelled_extraction_never_leaks_its_answer_into_the_next(pool: ExtractionPool) -> None:
    other = LARGE.replace(b"../l", b"../other")
    task = asyncio.create_task(pool.extract(LARGE, BASE, "text/html"))
    async with asyncio.timeout(10):
        while not pool._children:  # the child has been started and is given the page
            await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await pool.extract(other, BASE, "text/html") == extract_links(other, BASE, "text/html")


async def test_a_crashed_child_fails_one_page_only(pool: ExtractionPool) -> None:
    await pool.extract(LARGE, BASE, "text/html")
    (child,) = pool._children
    os.kill(child.process.pid, signal.SIGKILL)  # as the OOM killer would
    await asyncio.wait_for(child.process.wait(), 10)
    with pytest.raises(FetchError) as raised:
        await pool.extract(LARGE, BASE, "text/html")
    assert raised.value.code == "extract_failed"
    assert await pool.extract(LARGE, BASE, "text/html") == extract_links(LARGE, BASE, "text/html")


async def test_a_limit_keeps_only_the_first_links(pool: ExtractionPool) -> None:
    expected = extract_links(LARGE, BASE, "text/html")[:10]
    assert await pool.extract(LARGE, BASE, "text/html", limit=10) == expected
    assert await pool.extract(LARGE[:2000], BASE, "text/html", limit=2) == expected[:2]
