"""A crawl survives a SIGKILL: restarted on SQLite, or with a worker killed among several on Redis, it finishes with
exactly the set of pages a crawl without the kill finds, each page event once, and no URL fetched twice but the ones
being fetched when the process died."""

from __future__ import annotations

import asyncio
import signal
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.redis.deployment import WorkerProcess
from tests.support.crawl_site import CrawlSite, TreeSite
from tests.support.service import Service, receive_until

PAGES = 300
WORKERS = 8
BODY = {"max_depth": 20, "max_pages": 1000, "respect_robots": False}


@pytest.fixture
async def tree() -> AsyncIterator[TreeSite]:
    site = TreeSite(PAGES, delay=0.02)
    await site.start()
    yield site
    await site.stop()


def page_counts(frames: list[dict[str, Any]]) -> Counter[str]:
    return Counter(frame["url"] for frame in frames if frame["type"] == "page")


async def everything_of(service: Service, crawl_id: str, timeout: float = 90) -> list[dict[str, Any]]:
    """Every event of the crawl, replayed from the start, up to its crawl.done."""
    async with service.connect(f"request_id={crawl_id}&since=0") as ws:
        return await receive_until(ws, lambda fs: any(f["type"] == "crawl.done" for f in fs), timeout)


def on_sqlite(tmp_path: Path, *flags: str) -> Service:
    return Service("--allow-private-networks", "--rate-limit", "0", *flags,
                   store=f"sqlite:///{tmp_path}/linkcast.db", log_path=tmp_path / "serve.log")  # fmt: skip


async def test_a_crawl_killed_mid_way_on_sqlite_finishes_after_a_restart(tmp_path: Path, tree: TreeSite) -> None:
    service = on_sqlite(tmp_path, "--workers", str(WORKERS))
    await service.start()
    try:
        async with service.connect("request_id=tree&since=0", close_timeout=0.1) as ws:
            status, _ = await service.call("PUT", "/crawls/tree", json={"url": tree.url("/p/0"), **BODY})
            assert status == 201
            await receive_until(ws, lambda fs: sum(f["type"] == "page" for f in fs) >= 60, 60)
            service.stop(signal.SIGKILL)
        await service.start()
        frames = await everything_of(service, "tree")
    finally:
        service.stop()
    counts = page_counts(frames)
    assert set(counts) == tree.all_urls()
    assert max(counts.values()) == 1, "each page event once"
    refetched = [path for path, count in tree.requests.items() if count > 1]
    assert len(refetched) <= WORKERS, refetched  # only what was being fetched at the kill
    assert frames[-1]["counts"]["fetched"] == PAGES


async def test_a_worker_killed_among_two_on_redis_loses_nothing(
    tmp_path: Path, tree: TreeSite, redis_url: str, redis_prefix: str
) -> None:
    flags = ["--redis-prefix", redis_prefix, "--allow-private-networks", "--rate-limit", "0",
             "--job-visibility-timeout", "1.0"]  # fmt: skip
    replica = Service("--workers", "0", *flags, store=redis_url, log_path=tmp_path / "replica.log")
    workers = [
        WorkerProcess("--workers", str(WORKERS), *flags, store=redis_url, log_path=tmp_path / f"w{n}.log")
        for n in range(2)
    ]
    await replica.start()
    await asyncio.gather(*(worker.start() for worker in workers))
    try:
        async with replica.connect("request_id=tree&since=0") as ws:
            status, _ = await replica.call("PUT", "/crawls/tree", json={"url": tree.url("/p/0"), **BODY})
            assert status == 201
            await receive_until(ws, lambda fs: sum(f["type"] == "page" for f in fs) >= 60, 60)
            workers[0].kill()
        frames = await everything_of(replica, "tree")
    finally:
        replica.stop()
        for worker in workers:
            await worker.stop()
    counts = page_counts(frames)
    assert set(counts) == tree.all_urls()
    assert max(counts.values()) == 1, "each page event once"
    refetched = [path for path, count in tree.requests.items() if count > 1]
    assert len(refetched) <= WORKERS, refetched  # only what the killed worker was fetching
    assert frames[-1]["counts"]["fetched"] == PAGES


async def test_a_page_whose_worker_died_inside_its_redirect_is_fetched_after_the_restart(tmp_path: Path) -> None:
    """The redirect's target was claimed for the page by the try that died: the next try fetches it all the same,
    rather than taking its own claim for another page's and skipping it as a duplicate."""
    held, release = asyncio.Event(), asyncio.Event()

    async def moved(_request: web.Request) -> web.StreamResponse:
        return web.Response(status=302, headers={"Location": "/target"})

    async def target(_request: web.Request) -> web.StreamResponse:
        if not release.is_set():
            held.set()
            await release.wait()
        return web.Response(text="<a href='/after'>after</a>", content_type="text/html")

    site = CrawlSite()
    site.route("/moved", moved)
    site.route("/target", target)
    await site.start()
    service = on_sqlite(tmp_path)
    await service.start()
    try:
        body = {"url": site.url("/moved"), "max_depth": 0, "respect_robots": False}
        status, _ = await service.call("PUT", "/crawls/moved", json=body)
        assert status == 201
        await asyncio.wait_for(held.wait(), 30)  # the first try is inside its redirect, the target claimed
        service.stop(signal.SIGKILL)
        release.set()
        await service.start()
        frames = await everything_of(service, "moved")
    finally:
        service.stop()
        await site.stop()
    [page] = [frame for frame in frames if frame["type"] == "page"]
    assert page["url"] == site.url("/moved") and page["final_url"] == site.url("/target"), page
    assert not [frame for frame in frames if frame["type"] == "skipped"]
    assert site.requests["/target"] == 2


async def test_a_page_killed_before_its_redirect_into_a_visited_page_is_a_duplicate_after_the_restart(
    tmp_path: Path,
) -> None:
    """The try that died never reached the redirect (it was waiting for the page's own answer): the next try finds
    the target visited by another page and skips it as a duplicate, as a first try does, rather than fetch that
    page a second time and send its links again under the redirect's URL."""
    held, release = asyncio.Event(), asyncio.Event()

    async def moved(_request: web.Request) -> web.StreamResponse:
        if not release.is_set():
            held.set()
            await release.wait()
        return web.Response(status=302, headers={"Location": "/visited"})

    site = CrawlSite()
    site.page("/seed", '<a href="/visited">visited</a> <a href="/moved">moved</a>')
    site.page("/visited", "<p>visited</p>")
    site.route("/moved", moved)
    await site.start()
    service = on_sqlite(tmp_path)
    await service.start()
    try:
        async with service.connect("request_id=c&since=0", close_timeout=0.1) as ws:
            body = {"url": site.url("/seed"), "max_depth": 1, "respect_robots": False}
            assert (await service.call("PUT", "/crawls/c", json=body))[0] == 201
            visited = site.url("/visited")
            await receive_until(ws, lambda fs: any(f["type"] == "page" and f["url"] == visited for f in fs))
            await asyncio.wait_for(held.wait(), 30)  # /visited is; the first try of /moved waits for its answer
            service.stop(signal.SIGKILL)
        release.set()
        await service.start()
        frames = await everything_of(service, "c")
    finally:
        service.stop()
        await site.stop()
    assert {f["url"] for f in frames if f["type"] == "page"} == {site.url("/seed"), site.url("/visited")}
    assert [(f["url"], f["reason"]) for f in frames if f["type"] == "skipped"] == [(site.url("/moved"), "duplicate")]
    assert site.requests["/visited"] == 1, "the page no kill interrupted is fetched once"
