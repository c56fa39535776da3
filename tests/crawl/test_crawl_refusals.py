"""A crawl that meets an address the policy refuses says so: the page ends with error ``blocked``, whether the URL
names a refused address, a name that resolves to one, or redirects there; never ``skipped`` as if robots.txt had
refused it (the robots.txt of a refused host is refused too, and had no say)."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from tests.crawl.test_crawl_service import crawl
from tests.support.crawl_site import CrawlSite, html
from tests.support.ports import free_port
from tests.support.service import Service
from tests.web.test_api_hardening import loopback_name


def _redirect(location: str):  # type: ignore[no-untyped-def]
    async def handler(_request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(location)

    return handler


async def test_links_and_redirects_to_refused_hosts_end_as_blocked_pages(tmp_path: Path) -> None:
    refused_port = free_port()  # nothing listens there, and nothing may be sent there: refused before connecting
    by_name = f"http://{loopback_name()}:{refused_port}/by-name"
    site = CrawlSite()
    redirects = {
        site.route("/to-literal", _redirect(f"http://127.0.0.1:{refused_port}/literal")),
        site.route("/to-name", _redirect(f"http://{loopback_name()}:{refused_port}/name")),
    }
    site.page("/links", html(by_name, *redirects))
    await site.start()
    service = Service("--allow-hosts", f"127.0.0.1:{site.port}", store="memory://", log_path=tmp_path / "s.log")
    await service.start()
    try:
        frames = await crawl(service, "refused", {"url": site.url("/links"), "scope": "any"})
    finally:
        service.stop()
        await site.stop()
    assert not [f for f in frames if f["type"] == "skipped"], frames
    ended = {f["url"]: f for f in frames if f["type"] == "page"}
    for url in (by_name, *redirects):
        assert ended[url]["error"]["code"] == "blocked", ended[url]
