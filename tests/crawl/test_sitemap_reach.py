"""A crawl's sitemaps against a third party: however many sites a crawl seeds from, their ``Sitemap:`` lines (and
redirects) reach another host as one site's would, never once per site."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from tests.crawl.test_crawl_service import DONE
from tests.support.service import Service, receive_until
from tests.support.site import LocalSite

SITES = 3
LINES = 5  # Sitemap lines on the third party per site, and as many on the site itself that redirect there


class Bystander(LocalSite):
    """A host no seed is on, reached as ``localhost``: it records every request, whatever the path."""

    def __init__(self) -> None:
        super().__init__()
        self.requested: list[str] = []

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        self.requested.append(request.path)
        return web.Response(text="<urlset></urlset>", content_type="application/xml")


@pytest.fixture
async def bystander() -> AsyncIterator[Bystander]:
    site = Bystander()
    await site.start()
    yield site
    await site.stop()


async def seed_site(number: int, bystander: Bystander, host: str = "localhost") -> LocalSite:
    site = LocalSite()
    elsewhere = f"http://{host}:{bystander.port}"
    lines = [f"Sitemap: {elsewhere}/site{number}/listed{n}.xml" for n in range(LINES)]
    for n in range(LINES):
        target = f"{elsewhere}/site{number}/redirected{n}.xml"

        async def redirect(_request: web.Request, target: str = target) -> web.StreamResponse:
            return web.Response(status=302, headers={"Location": target})

        site.route(f"/sitemap{n}.xml", redirect)
        lines.append(f"Sitemap: /sitemap{n}.xml")
    site.page("/robots.txt", "\n".join(lines), content_type="text/plain")
    site.page("/", "<p>a seed</p>")
    await site.start()
    return site


async def test_many_seed_sites_cannot_multiply_what_their_sitemaps_ask_of_another_host(
    tmp_path: Path, bystander: Bystander
) -> None:
    # Each seed site's robots.txt may name up to --max-sitemaps sitemaps anywhere, and each is fetched, redirects
    # followed: 1,000 seed sites of one crawl (max_pages 1000, depth 0) made 100,000 requests of one third party.
    sites = [await seed_site(number, bystander) for number in range(SITES)]
    service = Service("--allow-private-networks", store="memory://", log_path=tmp_path / "serve.log")
    await service.start()
    try:
        body = {"urls": [site.url("/") for site in sites], "max_depth": 0, "sitemaps": True}
        async with service.connect("request_id=spread&since=0") as ws:
            status, answer = await service.call("PUT", "/crawls/spread", json=body)
            assert status == 201, answer
            frames = await receive_until(ws, lambda fs: any(f["type"] == DONE for f in fs), 60)
    finally:
        service.stop()
        for site in sites:
            await site.stop()
    assert frames[-1]["counts"]["fetched"] == SITES
    # One site's sitemaps reached the other host, all of them; the other sites' were not sent there.
    askers = {path.split("/")[1] for path in bystander.requested}
    assert len(askers) == 1, bystander.requested
    assert len(bystander.requested) == 2 * LINES, bystander.requested


async def test_spelling_the_other_host_another_way_reaches_it_as_one_host(tmp_path: Path, bystander: Bystander) -> None:
    # An IPv6 form that carries the IPv4 address (or a trailing dot) names the same server: each spelling was a host
    # of its own, which another seed site could claim and send its --max-sitemaps requests to.
    assert bystander.runner is not None
    await web.TCPSite(bystander.runner, "127.0.0.2", bystander.port).start()  # not the seed sites' host, 127.0.0.1
    sites = [await seed_site(number, bystander, host) for number, host in enumerate(["127.0.0.2", "[::ffff:7f00:2]"])]
    service = Service("--allow-private-networks", store="memory://", log_path=tmp_path / "serve.log")
    await service.start()
    try:
        body = {"urls": [site.url("/") for site in sites], "max_depth": 0, "sitemaps": True}
        async with service.connect("request_id=spelt&since=0") as ws:
            status, answer = await service.call("PUT", "/crawls/spelt", json=body)
            assert status == 201, answer
            await receive_until(ws, lambda fs: any(f["type"] == DONE for f in fs), 60)
    finally:
        service.stop()
        for site in sites:
            await site.stop()
    askers = {path.split("/")[1] for path in bystander.requested}
    assert len(askers) == 1, bystander.requested
    assert len(bystander.requested) == 2 * LINES, bystander.requested
