"""A crawl cancelled while its page's job waits for what comes before the page (robots.txt, the site's sitemaps),
against the real service on SQLite and a site that holds those answers until the test releases them: once DELETE has
answered, nothing more is fetched (no sitemap more, not the page), and the crawl ends in one crawl.done."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
import pytest_asyncio
from aiohttp import web

from tests.support.held_site import HeldSite
from tests.support.service import Service, receive_until
from tests.support.site import LocalSite

WAIT = 10.0
SITEMAPS = "http://www.sitemaps.org/schemas/sitemap/0.9"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def service(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Service]:
    """One worker: a request sent after a held answer is released is taken once the crawl's job has ended. Each test
    has a site of its own (another port), so that no robots.txt of another is kept for it."""
    folder: Path = tmp_path_factory.mktemp("crawl-cancel")
    running = Service("--allow-private-networks", "--workers", "1", "--rate-limit", "0",
                      store=f"sqlite:///{folder}/s.db", log_path=folder / "s.log")  # fmt: skip
    await running.start()
    yield running
    running.stop()


async def cancel_while_held(
    service: Service, site: LocalSite, body: dict[str, object], reached: asyncio.Event, release: asyncio.Event
) -> None:
    """Crawl ``body`` on ``site``; once the site holds an answer (``reached``), cancel the crawl, then ``release`` the
    answer and wait for the result of a request sent after it (taken once the crawl's job has ended). The crawl ends
    in one crawl.done, cancelled."""
    crawl, after = f"c{site.port}", f"after{site.port}"  # ids of their own on the module's service
    async with service.connect(f"request_id={crawl}&request_id={after}&since=0") as ws:
        assert (await service.call("PUT", f"/crawls/{crawl}", json=body))[0] == 201
        async with asyncio.timeout(WAIT):
            await reached.wait()
        status, record = await service.call("DELETE", f"/crawls/{crawl}")
        assert status == 200 and record["state"] == "cancelled"
        release.set()
        assert (await service.put(after, site.url("/after")))[0] == 201
        frames = await receive_until(ws, lambda fs: any(f.get("request_id") == after and f.get("type") == "result"
                                                        for f in fs), WAIT)  # fmt: skip
    assert [f["cancelled"] for f in frames if f.get("type") == "crawl.done"] == [True]


@pytest.mark.parametrize("held", ["/robots.txt", "/sitemap.xml"])
async def test_a_page_whose_crawl_was_cancelled_while_it_waited_for_robots_or_sitemaps_is_not_fetched(
    service: Service, held: str
) -> None:
    site = LocalSite()
    asked: Counter[str] = Counter()
    asked_after_delete: list[str] = []
    reached, release = asyncio.Event(), asyncio.Event()  # released as soon as DELETE has answered

    async def answer(request: web.Request) -> web.StreamResponse:
        asked[request.path] += 1
        if release.is_set() and request.path != "/after":
            asked_after_delete.append(request.path)
        if request.path == held:
            reached.set()
            await release.wait()
        if request.path == "/robots.txt":
            return web.Response(text=f"User-agent: *\nAllow: /\nSitemap: {site.url('/sitemap.xml')}\n")
        if request.path == "/sitemap.xml":  # an index of one sitemap more
            index = f"<sitemap><loc>{site.url('/more.xml')}</loc></sitemap>"
            return web.Response(text=f"<sitemapindex xmlns='{SITEMAPS}'>{index}</sitemapindex>",
                                content_type="application/xml")  # fmt: skip
        if request.path == "/more.xml":
            return web.Response(text=f"<urlset xmlns='{SITEMAPS}'/>", content_type="application/xml")
        return web.Response(text="<a href='/next'>next</a>", content_type="text/html")

    for path in ("/robots.txt", "/sitemap.xml", "/more.xml", "/page", "/after"):
        site.route(path, answer)
    await site.start()
    try:
        body = {"url": site.url("/page"), "max_depth": 1, "sitemaps": True}
        await cancel_while_held(service, site, body, reached, release)
        assert asked_after_delete == [], "asked after DELETE had answered"
    finally:
        await site.stop()


async def test_a_redirect_of_a_page_whose_crawl_was_cancelled_during_its_fetch_is_not_followed(
    service: Service,
) -> None:
    site = HeldSite("/moved", lambda: web.Response(status=302, headers={"Location": "/target"}), ["/target", "/after"])
    async with site:
        body = {"url": site.url("/moved"), "max_depth": 0, "respect_robots": False}
        await cancel_while_held(service, site, body, site.reached, site.release)
    assert site.asked["/target"] == 0, "the redirect was followed after DELETE had answered"


async def test_a_page_whose_crawl_was_cancelled_during_its_fetch_is_not_asked_again_after_a_503(
    service: Service,
) -> None:
    site = HeldSite("/busy", lambda: web.Response(status=503, headers={"Retry-After": "0"}), ["/after"])
    async with site:
        body = {"url": site.url("/busy"), "max_depth": 0, "respect_robots": False}
        await cancel_while_held(service, site, body, site.reached, site.release)
    assert site.asked["/busy"] == 1, "the page was asked again after DELETE had answered"


Answers = dict[str, Callable[[], web.Response]]


async def crawl_delay_site(answers: Answers, reached_at: str) -> tuple[LocalSite, Counter[str], asyncio.Event]:
    """A site whose robots.txt asks a Crawl-delay of 1 s, with ``answers``; the event is set 0.3 s after ``reached_at``
    has been answered: past the crawl's own next step (where it looked whether it was cancelled, then waited the
    delay), 0.7 s before it may ask the site again."""
    site, asked, reached = LocalSite(), Counter[str](), asyncio.Event()

    async def answer(request: web.Request) -> web.StreamResponse:
        asked[request.path] += 1
        if request.path == reached_at:
            asyncio.get_running_loop().call_later(0.3, reached.set)
        made = answers.get(request.path)
        return made() if made is not None else web.Response(text="a page", content_type="text/html")

    for path in ("/after", "/page", "/target", "/s2.xml", *answers):
        site.route(path, answer)
    return site, asked, reached


async def test_a_redirect_waiting_for_its_crawl_delay_is_not_followed_once_the_crawl_is_cancelled(
    service: Service,
) -> None:
    site, asked, reached = await crawl_delay_site(
        {"/robots.txt": lambda: web.Response(text="User-agent: *\nCrawl-delay: 1\n"),
         "/moved": lambda: web.Response(status=302, headers={"Location": "/target"})},
        "/moved",
    )  # fmt: skip
    await site.start()
    try:
        body = {"url": site.url("/moved"), "max_depth": 0}
        await cancel_while_held(service, site, body, reached, asyncio.Event())
    finally:
        await site.stop()
    assert asked["/target"] == 0, "the redirect was followed after DELETE had answered"


async def test_a_sitemap_waiting_for_its_crawl_delay_is_not_fetched_once_the_crawl_is_cancelled(
    service: Service,
) -> None:
    robots = "User-agent: *\nCrawl-delay: 1\nSitemap: /s1.xml\nSitemap: /s2.xml\n"
    site, asked, reached = await crawl_delay_site(
        {"/robots.txt": lambda: web.Response(text=robots),
         "/s1.xml": lambda: web.Response(text=f"<urlset xmlns='{SITEMAPS}'/>", content_type="application/xml")},
        "/s1.xml",
    )  # fmt: skip
    await site.start()
    try:
        body = {"url": site.url("/page"), "max_depth": 0, "sitemaps": True}
        await cancel_while_held(service, site, body, reached, asyncio.Event())
    finally:
        await site.stop()
    assert asked["/s2.xml"] == 0 and asked["/page"] == 0, f"asked after DELETE had answered: {asked}"
