"""Finding a URL's feed reads the start of its answer only (``feeds/discover.py``): every PUT /feeds fetches in the
API's own process, as many at once as clients ask, so a whole answer each made a bomb of every small gzipped page."""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from tests.support.memory import memory_bytes
from tests.support.service import Service, receive_until
from tests.support.site import LocalSite

AT_ONCE = 40
PAGE_BYTES = 10 * 1024 * 1024  # --max-body-bytes: 10 KB gzipped


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[Service]:
    running = Service(
        "--allow-private-networks", "--rate-limit", "0",
        store=f"sqlite:///{tmp_path}/linkcast.db", log_path=tmp_path / "serve.log",
    )  # fmt: skip
    await running.start()
    yield running
    running.stop()


def gzipped(site: LocalSite, path: str, body: bytes, content_type: str) -> str:
    packed = gzip.compress(body, 6)

    async def answer(_request: web.Request) -> web.StreamResponse:
        return web.Response(body=packed, headers={"Content-Type": content_type, "Content-Encoding": "gzip"})

    return site.route(path, answer)


async def test_pages_searched_for_their_feed_at_once_are_read_a_megabyte_each(
    service: Service, site: LocalSite
) -> None:
    page = b"<html><head><title>no feed</title></head><body><p>" + b"z" * PAGE_BYTES
    url = gzipped(site, "/page", page[:PAGE_BYTES], "text/html")
    assert service.process is not None
    before = memory_bytes(service.process.pid, "VmHWM")
    async with aiohttp.ClientSession() as session:

        async def watch(n: int) -> int:
            async with session.put(f"{service.base_url}/feeds/f{n}", json={"url": url}) as response:
                return response.status

        async with asyncio.timeout(120):
            statuses = await asyncio.gather(*(watch(n) for n in range(AT_ONCE)))
    assert statuses == [400] * AT_ONCE  # no_feed_found
    grown = memory_bytes(service.process.pid, "VmHWM") - before
    # Read whole, 40 pages of 10 MB were held at once: some 400 MB.
    assert grown < 150 * 1024 * 1024, f"the peak grew by {grown / 2**20:.0f} MiB"


async def test_a_feed_longer_than_what_is_read_to_find_it_is_found_and_polled(
    service: Service, site: LocalSite
) -> None:
    items = "".join(f"<item><guid>e{n}</guid><title>{'t' * 300}</title></item>" for n in range(6000))
    feed = f'<rss version="2.0"><channel><title>long</title>{items}</channel></rss>'.encode()
    assert len(feed) > 3 * 1024 * 1024 // 2  # past the 1 MiB read to find it
    url = gzipped(site, "/feed.xml", feed, "application/rss+xml")
    async with service.connect("request_id=long") as ws:
        status, record = await service.call("PUT", "/feeds/long", json={"url": url})
        assert status == 201 and record["url"] == url
        frames = await receive_until(ws, lambda frames: any(f["type"] == "feed.entry" for f in frames), 60)
    assert any(f.get("entry_id") == "e0" for f in frames)
