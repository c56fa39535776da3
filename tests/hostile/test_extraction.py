"""Link extraction of large pages (and the reading of large feeds) runs in child processes: a page past the deadline
or a child that crashes on it fails one request, never the worker, and the next page is served by a fresh child; a
child killed while idle fails no request; what a child reads is what a thread would."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import orjson
import pytest

from linkcast.core.errors import FetchError
from linkcast.core.links import FoundLinks, LinkLimits, extract_links
from linkcast.extraction import INLINE_MAX_BYTES, ExtractionPool
from linkcast.feeds.parse import FeedError
from linkcast.feeds.reading import Answer, read_answer, read_off_loop
from tests.support.service import Service, receive_until, terminal_for
from tests.support.site import LocalSite

BASE = "http://example.test/dir/page.html"
LARGE = ("".join(f"<p><a href='../l{n}'>{n}</a>" for n in range(20_000))).encode()
PATHOLOGICAL = b"<div>" * 100_000 + b"<a href=x>x</a>"
LIMITS = {"max_links": 100_000, "max_bytes": 8 * 1024 * 1024}


@pytest.fixture
async def pool() -> AsyncIterator[ExtractionPool]:
    extraction = ExtractionPool(processes=1, timeout=1.0)
    yield extraction
    await extraction.close()


async def test_large_pages_give_the_same_links_in_a_child(pool: ExtractionPool) -> None:
    assert len(LARGE) > INLINE_MAX_BYTES
    assert (await pool.extract(LARGE, BASE, "text/html")).links == extract_links(LARGE, BASE, "text/html")
    assert pool._children, "the large page was not sent to a child"


async def test_a_large_xhtml_page_is_read_as_xml_in_a_child(pool: ExtractionPool) -> None:
    # Past INLINE_MAX_BYTES the page goes to a child, which reads it as the XML it was served as: its un-namespaced
    # <a> is no link, and it stops at the error (a tag left open at </body>), as Chromium does.
    links = "".join(f"<p><a href='../x{n}'>{n}</a></p>" for n in range(5_000))
    body = (
        f"<html xmlns='http://www.w3.org/1999/xhtml'><body>{links}<a xmlns='' href='/none'/><br>"
        "</body><a href='/after-the-error'/></html>"
    ).encode()
    assert len(body) > INLINE_MAX_BYTES
    found = await pool.extract(body, BASE, "application/xhtml+xml")
    assert found.links == [f"http://example.test/x{n}" for n in range(5_000)]


async def test_a_page_past_the_deadline_fails_and_the_next_one_is_served(pool: ExtractionPool) -> None:
    with pytest.raises(FetchError) as raised:
        await pool.extract(PATHOLOGICAL, BASE, "text/html")
    assert raised.value.code == "too_complex"
    assert (await pool.extract(LARGE, BASE, "text/html")).links == extract_links(LARGE, BASE, "text/html")


async def test_a_cancelled_extraction_never_leaks_its_answer_into_the_next(pool: ExtractionPool) -> None:
    other = LARGE.replace(b"../l", b"../other")
    task = asyncio.create_task(pool.extract(LARGE, BASE, "text/html"))
    async with asyncio.timeout(10):
        while not pool._children:  # the child has been started and is given the page
            await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert (await pool.extract(other, BASE, "text/html")).links == extract_links(other, BASE, "text/html")


async def test_a_child_killed_while_idle_fails_no_page(pool: ExtractionPool) -> None:
    await pool.extract(LARGE, BASE, "text/html")
    (child,) = pool._children
    os.kill(child.process.pid, signal.SIGKILL)  # as the OOM killer would
    await asyncio.wait_for(child.process.wait(), 10)
    assert (await pool.extract(LARGE, BASE, "text/html")).links == extract_links(LARGE, BASE, "text/html")


async def test_a_child_that_dies_during_a_page_fails_that_page_only(pool: ExtractionPool) -> None:
    await pool.extract(LARGE, BASE, "text/html")
    (child,) = pool._children
    parsing = asyncio.create_task(pool.extract(PATHOLOGICAL, BASE, "text/html"))
    await asyncio.sleep(0.3)  # the child is parsing the page (it takes far longer than this)
    os.kill(child.process.pid, signal.SIGKILL)
    with pytest.raises(FetchError) as raised:
        await parsing
    assert raised.value.code == "extract_failed"
    assert (await pool.extract(LARGE, BASE, "text/html")).links == extract_links(LARGE, BASE, "text/html")


def children_of(pid: int) -> set[int]:
    """The process ids of ``pid``'s children (a zombie included, until its parent reaps it)."""
    return {int(child) for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()}


async def test_the_service_serves_every_page_after_its_idle_children_die(tmp_path: Path, site: LocalSite) -> None:
    """On the service's event loop (uvloop), where writing to a dead child's pipe raised RuntimeError: each request
    the killed children were next given failed as ``internal``, with a traceback in the log."""
    big = "<a href='/x'>x</a><p>" + "y" * (2 * INLINE_MAX_BYTES) + "</p>"
    urls = {f"big{n}": site.page(f"/big{n}", big) for n in range(4)}
    service = Service(
        "--allow-private-networks", "--workers", "2", "--parse-processes", "2",
        store=f"sqlite:///{tmp_path}/linkcast.db", log_path=tmp_path / "serve.log",
    )  # fmt: skip
    await service.start()
    try:
        async with service.connect() as ws:
            for request_id in ("big0", "big1"):
                await service.put(request_id, urls[request_id])
            await receive_until(ws, lambda fs: len(terminal_for(fs, {"big0", "big1"})) == 2)
            assert service.process is not None
            children = children_of(service.process.pid)
            assert children, "the large pages were not sent to children"  # the service's only children
            for pid in children:
                os.kill(pid, signal.SIGKILL)  # as the OOM killer would, while they wait for a page
            async with asyncio.timeout(10):
                while children_of(service.process.pid) & children:  # until the service has reaped them
                    await asyncio.sleep(0.02)
            for request_id in ("big2", "big3"):
                await service.put(request_id, urls[request_id])
            frames = await receive_until(ws, lambda fs: len(terminal_for(fs, {"big2", "big3"})) == 2)
    finally:
        service.stop()
    for request_id, frame in terminal_for(frames, {"big2", "big3"}).items():
        assert frame["type"] == "result" and frame["links"] == [site.url("/x")], (request_id, frame)
    assert "Traceback" not in (tmp_path / "serve.log").read_text()


async def test_limits_keep_the_first_links_in_a_child_as_inline() -> None:
    expected = extract_links(LARGE, BASE, "text/html")
    ten_links_of_json = 2 + sum(len(link) + 3 for link in expected[:10])
    for limits in (LinkLimits(max_links=10), LinkLimits(max_bytes=ten_links_of_json)):
        extraction = ExtractionPool(processes=1, timeout=5.0, limits=limits)
        try:
            assert await extraction.extract(LARGE, BASE, "text/html") == FoundLinks(expected[:10], truncated=True)
            small = LARGE[:2000]
            inline = await extraction.extract(small, BASE, "text/html")
            assert inline == FoundLinks(extract_links(small, BASE, "text/html")[:10], truncated=True)
        finally:
            await extraction.close()


async def test_a_long_base_url_cannot_make_a_huge_result() -> None:
    """The attack: a 20,000-character <base href> copied into each of 20,000 relative links (a 391 MB result)."""
    page = f'<base href="http://example.test/{"b" * 20_000}/">'.encode()
    page += "".join(f"<a href=x{n}>.</a>" for n in range(20_000)).encode()
    limit = 1024 * 1024
    extraction = ExtractionPool(processes=1, timeout=30.0, limits=LinkLimits(max_links=100_000, max_bytes=limit))
    try:
        found = await extraction.extract(page, BASE, "text/html")
    finally:
        await extraction.close()
    assert found.truncated
    assert 0 < len(orjson.dumps(found.links)) <= limit
    assert found.links[0] == f"http://example.test/{'b' * 20_000}/x0"
    assert found.links[-1] == f"http://example.test/{'b' * 20_000}/x{len(found.links) - 1}"


def big_feed() -> bytes:
    items = "".join(
        f"<item><guid>g{n}</guid><title>T {n}</title><link>/e/{n}</link>"
        "<pubDate>Sun, 06 Dec 2026 10:00:00 GMT</pubDate>"
        f"<description>&lt;p&gt;&lt;a href=&quot;/l{n}&quot;&gt;l&lt;/a&gt;&lt;/p&gt;</description></item>"
        for n in range(300)
    )
    return f'<rss version="2.0"><channel><title>Big</title><link>/</link><ttl>60</ttl>{items}</channel></rss>'.encode()


async def test_a_large_feed_is_read_in_a_child_as_it_is_in_a_thread(pool: ExtractionPool) -> None:
    body = big_feed()
    assert len(body) > INLINE_MAX_BYTES
    answer = Answer(body, "http://example.test/feed.xml", "application/rss+xml", ('</hub>; rel="hub"',))
    in_child = await read_off_loop(pool, "feed", answer, LinkLimits(), 250)
    assert pool._children, "the large feed was not sent to a child"
    assert in_child == read_answer("feed", answer, LinkLimits(), 250)
    assert len(in_child.entries) == 250 and in_child.entries[0].fields["links"] == ["http://example.test/l0"]
    assert in_child.hubs == ["http://example.test/hub"] and in_child.ttl == 3600


async def test_a_large_document_that_is_no_feed_is_the_feed_error_a_thread_gives(pool: ExtractionPool) -> None:
    answer = Answer(LARGE, BASE, "text/html")
    with pytest.raises(FeedError) as raised:
        await read_off_loop(pool, "feed", answer, LinkLimits(), 100)
    assert raised.value.code == "not_a_feed" and pool._children


async def test_requests_that_parse_take_a_share_of_the_children_and_wait_for_it_within_the_deadline(
    pool: ExtractionPool,
) -> None:
    # A page searched for its feed (PUT /feeds) and a hub's delivery are parsed in API requests, outside the
    # scheduler: without a share, any number of them queued in the pool ahead of the workers' pages.
    requests = [
        asyncio.create_task(
            pool.run_for_request("links", {"url": BASE, "content_type": None, **LIMITS}, PATHOLOGICAL, "slow")
        )
        for _ in range(3)
    ]
    await asyncio.sleep(0.2)  # the first holds the requests' one turn; the others wait for it
    found = await asyncio.wait_for(pool.extract(LARGE, BASE, "text/html"), pool.timeout * 2 + 5)
    assert found.links, "a job waits for one request's parse at most"
    outcomes = await asyncio.wait_for(asyncio.gather(*requests, return_exceptions=True), pool.timeout * 2 + 5)
    codes = sorted(getattr(outcome, "code", "answered") for outcome in outcomes)
    assert codes == ["extraction_busy", "extraction_busy", "too_complex"]


async def test_feed_discovery_of_slow_pages_leaves_the_workers_pages_on_time(tmp_path: Path, site: LocalSite) -> None:
    # Before: ten PUT /feeds of pages that take the whole --parse-timeout (2 s) queued ahead of a worker's page, whose
    # result came 20 s late (1,000 at once, the rate limit's burst, at the default 10 s: hours).
    nested = site.page("/nested", "<html><head>" + "<div>" * 100_000)
    page = site.page("/large", LARGE.decode())
    service = Service(
        "--allow-private-networks", "--parse-timeout", "2", "--parse-processes", "1",
        store="memory://", log_path=tmp_path / "serve.log",
    )  # fmt: skip
    await service.start()
    try:
        async with aiohttp.ClientSession() as session:

            async def watch(n: int) -> tuple[int, str]:
                status, body = await service.call("PUT", f"/feeds/f{n}", json={"url": f"{nested}?{n}"}, session=session)
                return status, body["error"]["code"]

            discoveries = [asyncio.create_task(watch(n)) for n in range(10)]
            await asyncio.sleep(0.5)
            async with service.connect("request_id=page") as ws:
                assert (await service.put("page", page))[0] == 201
                frames = await receive_until(ws, lambda fs: bool(terminal_for(fs, {"page"})), 2 * 2 + 5)
            assert terminal_for(frames, {"page"})["page"]["type"] == "result"
            answers = await asyncio.wait_for(asyncio.gather(*discoveries), 2 * 2 + 5)
        assert {answer for answer in answers} <= {(422, "too_complex"), (503, "extraction_busy")}
    finally:
        service.stop()


async def test_a_page_whose_tree_outgrows_the_memory_cap_is_too_complex_and_its_child_replaced() -> None:
    """10 MB of empty elements (20 KB gzipped) made a tree of 660 MB in a child, and every child could hold one at
    once. Past --parse-memory-bytes the parse fails; a fresh child reads the next page."""
    extraction = ExtractionPool(processes=1, timeout=30.0, memory_bytes=256 * 1024 * 1024)
    try:
        with pytest.raises(FetchError) as raised:
            await extraction.extract(b"<p>" * (10 * 1024 * 1024 // 3), BASE, "text/html")
        assert raised.value.code == "too_complex" and "memory" in raised.value.message
        real = b"".join(b'<div><a href="/articles/%d/a-title">Title</a><p>A sentence or two.</p></div>' % n
                        for n in range(100_000))  # fmt: skip
        found = await extraction.extract(real, BASE, "text/html")
        assert len(found.links) == 100_000
    finally:
        await extraction.close()
