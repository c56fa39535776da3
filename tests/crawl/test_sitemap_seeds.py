"""A crawl's seeds from sitemaps: keyed without holding the event loop, and taken whatever became of the seed."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
from aiohttp import web

from linkcast.core.crawls import CRAWL_ENDED
from linkcast.crawl import jobs
from linkcast.crawl.jobs import CrawlJobs
from linkcast.crawl.urls import crawl_key
from tests.support.in_process import in_process_service
from tests.support.site import LocalSite

WAIT = 30.0


async def test_sitemap_seeds_are_keyed_without_a_parse_each(monkeypatch: pytest.MonkeyPatch) -> None:
    # The 50,000 pages a site's sitemaps may list were parsed again for their keys, all at once on the event loop:
    # 0.2 s, 0.8 s for long URLs. The sitemap's reader serialised them already: their keys are cut from the text.
    urls = [f"https://example.com/{'a' * 2000}/{n}#part" for n in range(50_000)]

    async def listed(*_args: Any) -> list[str]:
        return urls

    async def claimed(*_args: Any) -> bool:
        return True

    async def robots_answer(*_args: Any, **_kwargs: Any) -> tuple[Any, bool]:
        return SimpleNamespace(rules=None, ttl=60.0), False

    parsed = []
    monkeypatch.setattr(jobs, "discover_sitemap_urls", listed)
    monkeypatch.setattr(jobs, "crawl_key", lambda url: parsed.append(url) or crawl_key(url))
    handler = CrawlJobs.__new__(CrawlJobs)
    handler.store = SimpleNamespace(claim_crawl_url=claimed)  # type: ignore[assignment]
    handler.robots = SimpleNamespace(answer_for=robots_answer)  # type: ignore[assignment]
    handler.fetcher = handler.sitemap_limits = None  # type: ignore[assignment]
    job = SimpleNamespace(url="https://example.com/", request_id="c", attempt=1, data={})
    spec = SimpleNamespace(sitemaps=True, respect_robots=False)
    rules = SimpleNamespace(skip_reason_of_key=lambda key, depth: None)
    seeds = await handler._sitemap_seeds(job, None, spec, rules)  # type: ignore[arg-type]
    assert [seed.url for seed in seeds[:2]] == [crawl_key(url) for url in urls[:2]] and len(seeds) == 50_000
    assert parsed == []


@pytest.fixture
async def site() -> AsyncIterator[LocalSite]:
    local = LocalSite()
    local.page("/sitemap.xml", f"<urlset><url><loc>{local.url('/listed')}</loc></url></urlset>", "application/xml")
    local.page("/listed", "<p>a page the sitemap lists</p>")
    await local.start()
    yield local
    await local.stop()


@pytest.mark.parametrize(
    ("robots", "seed_redirects"),
    [("Disallow: /$", False), ("Disallow: /private", True)],
    ids=["seed-disallowed", "seed-redirects-where-disallowed"],
)
async def test_a_seed_robots_txt_refuses_still_gives_its_sites_sitemap_pages(
    site: LocalSite, robots: str, seed_redirects: bool
) -> None:
    """The sitemaps are the site's, not the seed page's: a seed robots.txt refused (itself, or the target of its
    redirect) gave up its site's sitemaps too, read once per site and crawl, so the crawl never had them."""
    site.page("/robots.txt", f"User-agent: *\n{robots}\nSitemap: /sitemap.xml\n", "text/plain")
    if seed_redirects:
        site.route("/", _redirect(site.url("/private")))
    async with in_process_service() as (client, _runtime):
        answer = await client.put("/crawls/c", json={"url": site.url("/"), "max_depth": 0, "sitemaps": True})
        assert answer.status_code == 201, await answer.get_json()
        async with asyncio.timeout(WAIT):
            while (await (await client.get("/crawls/c")).get_json())["state"] not in CRAWL_ENDED:
                await asyncio.sleep(0.02)
        pages = (await (await client.get("/crawls/c/pages")).get_json())["pages"]
    outcomes = {page["url"]: page.get("reason", page["type"]) for page in pages}
    assert outcomes == {site.url("/"): "robots", site.url("/listed"): "page"}


def _redirect(to: str) -> Any:
    async def handler(_request: web.Request) -> web.StreamResponse:
        return web.Response(status=301, headers={"Location": to})

    return handler
