"""A robots.txt ``Crawl-delay`` becomes its host's spacing in the scheduler whichever job fetched the file first: a
crawl in the service's own process on the memory store, whose scheduler is read for the spacing (the store's contract
shows it nowhere), against local sites on loopback (each its own host:port)."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from quart.typing import TestClientProtocol as Client

from linkcast.core.crawls import CRAWL_ENDED
from linkcast.runtime import Runtime
from linkcast.store.memory import MemoryStore
from tests.support.in_process import in_process_service
from tests.support.site import LocalSite

WAIT = 30.0
DELAY = "User-agent: *\nCrawl-delay: 0.5\n"  # short: the crawls here are spaced by it


@pytest.fixture
async def sites() -> AsyncIterator[tuple[LocalSite, LocalSite]]:
    made = (LocalSite(), LocalSite())
    for site in made:
        await site.start()
    yield made
    for site in made:
        await site.stop()


@pytest.fixture
async def service() -> AsyncIterator[tuple[Client, Runtime]]:
    async with in_process_service() as running:
        yield running


async def crawled(client: Client, crawl_id: str, body: dict[str, Any]) -> list[str]:
    """PUT the crawl, wait for its end, and answer the URLs it fetched."""
    answer = await client.put(f"/crawls/{crawl_id}", json=body)
    assert answer.status_code == 201, await answer.get_json()
    async with asyncio.timeout(WAIT):
        while (await (await client.get(f"/crawls/{crawl_id}")).get_json())["state"] not in CRAWL_ENDED:
            await asyncio.sleep(0.02)
    pages = (await (await client.get(f"/crawls/{crawl_id}/pages")).get_json())["pages"]
    return [page["url"] for page in pages if page["type"] == "page"]


def spacing(runtime: Runtime, site: LocalSite) -> float:
    """The Crawl-delay the scheduler keeps for the site's host now (0: none)."""
    store = runtime.store
    assert isinstance(store, MemoryStore)
    host = store._jobs._hosts.get(f"127.0.0.1:{site.port}")
    return host.delay if host is not None and host.delay_until > time.time() else 0.0


async def test_the_crawl_delay_of_a_site_reached_by_a_redirect_is_kept(
    service: tuple[Client, Runtime], sites: tuple[LocalSite, LocalSite]
) -> None:
    """The seed redirects to another site, whose robots.txt is fetched for that hop: its Crawl-delay was never
    applied, as only a job that fetched the file itself applied it, and the target's pages found it in the cache."""
    client, runtime = service
    seed, target = sites
    seed.route("/", _redirect(target.url("/")))
    target.page("/robots.txt", DELAY, content_type="text/plain")
    target.page("/", "<a href='/a'>a</a>")
    target.page("/a", "a leaf")
    fetched = await crawled(client, "c", {"url": seed.url("/"), "scope": "any"})
    assert target.url("/a") in fetched
    assert spacing(runtime, target) == 0.5


async def test_the_crawl_delay_read_by_a_crawl_that_ignores_robots_txt_applies_to_the_next_that_obeys_it(
    service: tuple[Client, Runtime], sites: tuple[LocalSite, LocalSite]
) -> None:
    """A crawl that ignores robots.txt still reads it for its Sitemap lines, and leaves the answer in the cache: the
    next crawl of the site, which obeys it, took it from there without its Crawl-delay."""
    client, runtime = service
    site, _ = sites
    site.page("/robots.txt", DELAY, content_type="text/plain")
    site.page("/", "<a href='/a'>a</a>")
    site.page("/a", "a leaf")
    await crawled(client, "ignores", {"url": site.url("/"), "max_depth": 0, "respect_robots": False, "sitemaps": True})
    assert spacing(runtime, site) == 0.0  # ignored: the crawl that said so is not spaced by it
    assert site.url("/a") in await crawled(client, "obeys", {"url": site.url("/")})
    assert spacing(runtime, site) == 0.5


def _redirect(to: str) -> Any:
    async def handler(_request: web.Request) -> web.StreamResponse:
        return web.Response(status=301, headers={"Location": to})

    return handler


def counted(
    started: list[tuple[str, float]], body: str, content_type: str = "text/html", status: int = 200, **headers: str
) -> Any:
    """A handler that notes when each request to it came (its path, the monotonic time)."""

    async def handler(request: web.Request) -> web.StreamResponse:
        started.append((request.path, time.monotonic()))
        return web.Response(text=body, content_type=content_type, status=status, headers=headers)

    return handler


def assert_spaced(started: list[tuple[str, float]], count: int) -> None:
    """The requests came about the Crawl-delay (0.5 s) apart: noted as each reached its handler, on an event loop
    the service shares, so a busy machine may bring one late and the next on time (0.3 s: a fifth of a second of
    that). Unspaced, they came 1-2 ms apart."""
    times = sorted(at for _path, at in started)
    assert len(times) == count and all(later - earlier >= 0.3 for earlier, later in itertools.pairwise(times)), started


async def test_the_pages_of_a_site_with_a_crawl_delay_are_fetched_that_far_apart_from_the_first(
    service: tuple[Client, Runtime], sites: tuple[LocalSite, LocalSite]
) -> None:
    """The job that read the Crawl-delay fetched its page at once, and the next job of the host started as soon as
    that page was done: robots.txt and the first two pages came in a row, and the delay held only from the third."""
    client, _ = service
    site, _ = sites
    started: list[tuple[str, float]] = []
    site.route("/robots.txt", counted(started, DELAY, "text/plain"))
    site.route("/", counted(started, "<a href='/a'>a</a> <a href='/b'>b</a>"))
    site.route("/a", counted(started, "a leaf"))
    site.route("/b", counted(started, "b leaf"))
    assert sorted(await crawled(client, "spaced", {"url": site.url("/")})) == [site.url(p) for p in ("/", "/a", "/b")]
    assert_spaced(started, 4)


async def test_a_site_s_sitemaps_and_its_page_are_fetched_a_crawl_delay_apart(
    service: tuple[Client, Runtime], sites: tuple[LocalSite, LocalSite]
) -> None:
    """A seed's job read the site's sitemaps one after the other, and its page after them, at once."""
    client, _ = service
    site, _ = sites
    started: list[tuple[str, float]] = []
    robots = f"{DELAY}Sitemap: /s1.xml\nSitemap: /s2.xml\n"
    site.route("/robots.txt", counted(started, robots, "text/plain"))
    for name, page in (("s1", "/a"), ("s2", "/b")):
        sitemap = f"<urlset><url><loc>{site.url(page)}</loc></url></urlset>"
        site.route(f"/{name}.xml", counted(started, sitemap, "application/xml"))
    for path in ("/", "/a", "/b"):
        site.route(path, counted(started, "a page"))
    crawl = {"url": site.url("/"), "max_depth": 0, "sitemaps": True}
    assert sorted(await crawled(client, "sitemaps", crawl)) == [site.url(p) for p in ("/", "/a", "/b")]
    assert_spaced(started, 6)


async def test_a_redirect_within_the_site_is_followed_a_crawl_delay_later(
    service: tuple[Client, Runtime], sites: tuple[LocalSite, LocalSite]
) -> None:
    """Each hop of a redirect is a request: it came right after the page's own."""
    client, _ = service
    site, _ = sites
    started: list[tuple[str, float]] = []
    site.route("/robots.txt", counted(started, DELAY, "text/plain"))
    site.route("/", counted(started, "", status=301, Location="/home"))
    site.route("/home", counted(started, "<a href='/a'>a</a>"))
    site.route("/a", counted(started, "a leaf"))
    assert sorted(await crawled(client, "hops", {"url": site.url("/")})) == [site.url(p) for p in ("/", "/a")]
    assert_spaced(started, 4)


async def test_the_crawl_delay_waited_before_each_hop_of_a_redirect_is_not_counted_as_the_fetch_s_time(
    sites: tuple[LocalSite, LocalSite],
) -> None:
    """Three hops within the site, each a Crawl-delay (0.5 s) after the one before, take longer than a fetch may
    (--fetch-timeout 1 s): the waits are politeness, not the server's slowness, and the page is fetched. Counted in the
    fetch's time, they ended it as a timeout before its last hop."""
    site, _ = sites
    site.route("/robots.txt", counted([], "User-agent: *\nCrawl-delay: 0.5\n", "text/plain"))
    for path, to in (("/", "/one"), ("/one", "/two"), ("/two", "/home")):
        site.route(path, _redirect(to))
    site.route("/home", counted([], "home"))
    async with in_process_service(fetch_timeout=1.0) as (client, _):
        await client.put("/crawls/hops", json={"url": site.url("/"), "max_depth": 0})
        async with asyncio.timeout(WAIT):
            while (await (await client.get("/crawls/hops")).get_json())["state"] not in CRAWL_ENDED:
                await asyncio.sleep(0.02)
        pages = (await (await client.get("/crawls/hops/pages")).get_json())["pages"]
    assert [(page.get("final_url"), page.get("error")) for page in pages] == [(site.url("/home"), None)], pages


async def test_redirects_from_another_host_keep_to_the_crawl_delay_of_the_host_they_lead_to(
    service: tuple[Client, Runtime], sites: tuple[LocalSite, LocalSite]
) -> None:
    """Two pages of a site without a delay redirect to a site that asks for one, whose own page is crawled too: no
    job of that site was claimed for the hops, and they came as soon as their pages were fetched, right after the
    site's robots.txt and its page."""
    client, _ = service
    slow, other = sites
    started: list[tuple[str, float]] = []
    slow.route("/robots.txt", counted(started, DELAY, "text/plain"))
    for path in ("/", "/p1", "/p2"):
        slow.route(path, counted(started, "a page"))
    for n in (1, 2):
        other.route(f"/x{n}", _redirect(slow.url(f"/p{n}")))
    seeds = [slow.url("/"), other.url("/x1"), other.url("/x2")]
    assert len(await crawled(client, "across", {"urls": seeds, "max_depth": 0, "scope": "any"})) == 3
    assert_spaced(started, 4)


def _answers(started: list[tuple[str, float]], *statuses: int) -> Any:
    """robots.txt answering ``statuses`` in turn, then allowing everything; each request noted."""
    queued = list(statuses)

    async def handler(request: web.Request) -> web.StreamResponse:
        started.append((request.path, time.monotonic()))
        status = queued.pop(0) if queued else 200
        return web.Response(text="User-agent: *\nAllow: /\n", content_type="text/plain", status=status)

    return handler


# 500, not 503: the fetcher asks again once at once after a 503, which would make each answer two requests.
@pytest.mark.parametrize(("statuses", "fetched"), [((500, 500), True), ((500, 500, 500), False)], ids=["back", "down"])
async def test_a_page_whose_robots_txt_is_unreachable_waits_for_it_a_while(
    sites: tuple[LocalSite, LocalSite], statuses: tuple[int, ...], fetched: bool
) -> None:
    """robots.txt answering 5xx disallows the site "for a while" (RFC 9309 2.3.1.4): the page was skipped for the
    crawl at the first 500. Now it is tried again as each answer expires, three answers in a row at most: fetched once
    robots.txt is back, skipped (robots) if it is not."""
    site, _ = sites
    started: list[tuple[str, float]] = []
    site.route("/robots.txt", _answers(started, *statuses))
    site.route("/", counted(started, "a page"))
    async with in_process_service(robots_unreachable_ttl=0.2) as (client, _):
        await client.put("/crawls/blip", json={"url": site.url("/"), "max_depth": 0})
        async with asyncio.timeout(WAIT):
            while (state := await (await client.get("/crawls/blip")).get_json())["state"] not in CRAWL_ENDED:
                await asyncio.sleep(0.02)
    paths = [path for path, _at in started]
    if fetched:
        assert paths == ["/robots.txt"] * 3 + ["/"] and state["counts"]["fetched"] == 1, (paths, state)
    else:
        assert paths == ["/robots.txt"] * 3 and state["counts"]["skipped"]["robots"] == 1, (paths, state)


async def test_redirects_into_a_host_whose_turns_are_taken_far_ahead_never_come_closer_than_its_crawl_delay(
    sites: tuple[LocalSite, LocalSite],
) -> None:
    """Six pages of a site without a delay redirect at once to one asking 0.5 s (--max-crawl-delay 1): the hops
    took turns 0.5 s apart, but each worker waited 1 s at most and then asked, so the hops whose turns were further
    came together, 0.2 ms apart. A hop whose turn is further than that is not made (its page fails with a timeout that
    says why), and those made keep the delay."""
    slow, other = sites
    started: list[tuple[str, float]] = []
    slow.route("/robots.txt", counted(started, DELAY, "text/plain"))
    for n in range(6):
        slow.route(f"/p{n}", counted(started, "a page"))
        other.route(f"/x{n}", _redirect(slow.url(f"/p{n}")))
    async with in_process_service(workers=6, max_crawl_delay=1.0) as (client, _runtime):
        seeds = [other.url(f"/x{n}") for n in range(6)]
        assert len(await crawled(client, "burst", {"urls": seeds, "max_depth": 0, "scope": "any"})) == 6
        pages = (await (await client.get("/crawls/burst/pages")).get_json())["pages"]
    assert_spaced(started, len(started))
    made = {path for path, _at in started} - {"/robots.txt"}
    assert made and {other.url(f"/x{p[2:]}") for p in made} == {p["url"] for p in pages if "error" not in p}, pages
    assert {p["error"]["code"] for p in pages if "error" in p} <= {"timeout"}, pages


async def test_a_retry_of_a_page_or_of_a_hop_keeps_to_the_crawl_delay_of_its_host(
    service: tuple[Client, Runtime], sites: tuple[LocalSite, LocalSite]
) -> None:
    """A site asking 0.5 s answers 503 with Retry-After: 0 to the first two tries of its page, and of a page another
    site redirects to: each retry is a request to the host as much as the first, and came 1 ms after it."""
    client, _ = service
    slow, other = sites
    started: list[tuple[str, float]] = []
    slow.route("/robots.txt", counted(started, DELAY, "text/plain"))
    for path in ("/own", "/hop"):
        slow.route(path, busy_twice(started))
    other.route("/x", _redirect(slow.url("/hop")))
    seeds = [slow.url("/own"), other.url("/x")]
    fetched = await crawled(client, "retried", {"urls": seeds, "max_depth": 0, "scope": "any"})
    assert len(fetched) == 2
    assert_spaced(started, 7)  # robots.txt, and three tries of each page


def busy_twice(started: list[tuple[str, float]], body: str = "a page", content_type: str = "text/html") -> Any:
    """A page that answers 503 (retry at once) to its first two requests, noting when each came."""
    tries = itertools.count()

    async def handler(request: web.Request) -> web.StreamResponse:
        started.append((request.path, time.monotonic()))
        if next(tries) < 2:
            return web.Response(status=503, headers={"Retry-After": "0"})
        return web.Response(text=body, content_type=content_type)

    return handler


async def test_a_sitemap_s_redirects_and_retries_are_fetched_a_crawl_delay_apart(
    service: tuple[Client, Runtime], sites: tuple[LocalSite, LocalSite]
) -> None:
    """The site's one sitemap redirects twice within the site, and its target answers 503 (Retry-After: 0) twice: the
    sitemap's first request took the host's turn, and the two hops and two retries after it came within 2 ms."""
    client, _ = service
    site, _ = sites
    started: list[tuple[str, float]] = []
    site.route("/robots.txt", counted(started, f"{DELAY}Sitemap: /s1.xml\n", "text/plain"))
    site.route("/s1.xml", noted(started, _redirect(site.url("/s2.xml"))))
    site.route("/s2.xml", noted(started, _redirect(site.url("/s3.xml"))))
    sitemap = f"<urlset><url><loc>{site.url('/a')}</loc></url></urlset>"
    site.route("/s3.xml", busy_twice(started, sitemap, "application/xml"))
    for path in ("/", "/a"):
        site.route(path, counted(started, "a page"))
    crawl = {"url": site.url("/"), "max_depth": 0, "sitemaps": True}
    assert sorted(await crawled(client, "moved", crawl)) == [site.url(p) for p in ("/", "/a")]
    assert_spaced(started, 8)  # robots.txt, /s1, /s2, /s3 three times, the two pages


def noted(started: list[tuple[str, float]], handler: Any) -> Any:
    """``handler``, noting when each request to it came."""

    async def noting(request: web.Request) -> web.StreamResponse:
        started.append((request.path, time.monotonic()))
        response: web.StreamResponse = await handler(request)
        return response

    return noting


async def test_a_retry_s_wait_for_its_host_s_turn_leaves_the_next_retry_its_time(
    sites: tuple[LocalSite, LocalSite],
) -> None:
    """A site asking 1.2 s answers 503 (Retry-After: 0) twice, under a 1 s --fetch-timeout: the first retry waited
    1.2 s for the host's turn, not counted in the fetch's bound, but the second was judged against the deadline the
    hop began with, 1 s after its first try: not made, and the page failed after 2 tries of its 3."""
    site, _ = sites
    started: list[tuple[str, float]] = []
    site.route("/robots.txt", counted(started, "User-agent: *\nCrawl-delay: 1.2\n", "text/plain"))
    site.route("/p", busy_twice(started))
    async with in_process_service(fetch_timeout=1.0) as (client, _runtime):
        assert await crawled(client, "patient", {"url": site.url("/p"), "max_depth": 0}) == [site.url("/p")]
        pages = (await (await client.get("/crawls/patient/pages")).get_json())["pages"]
    assert [(page.get("status_code"), page.get("error")) for page in pages] == [(200, None)], pages
    assert [path for path, _at in started] == ["/robots.txt", "/p", "/p", "/p"]
