"""Crawls against the real service and a local site with a known link graph: the exact set of pages for each depth,
scope, pattern and limit; robots.txt; sitemaps; redirects into visited pages; cancel; the events and the pages API."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from tests.hostile.site import HostileSite
from tests.support.crawl_site import CrawlSite, TreeSite, html
from tests.support.service import Service, receive_until, slowest_health_check
from tests.support.site import LocalSite

DONE = "crawl.done"


@pytest.fixture
async def crawl_site() -> AsyncIterator[CrawlSite]:
    site = CrawlSite()
    await site.start()
    yield site
    await site.stop()


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def api_only(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Service]:
    """The default address policy (loopback refused), no workers: for what is refused before anything runs."""
    service = Service("--workers", "0", store="memory://", log_path=tmp_path_factory.mktemp("api") / "serve.log")
    await service.start()
    yield service
    service.stop()


@pytest.fixture
async def crawler(tmp_path: Path) -> AsyncIterator[Service]:
    service = Service(
        "--allow-private-networks", "--rate-limit", "0", "--workers", "8",
        store=f"sqlite:///{tmp_path}/linkcast.db", log_path=tmp_path / "serve.log",
    )  # fmt: skip
    await service.start()
    yield service
    service.stop()


async def crawl(service: Service, crawl_id: str, body: dict[str, Any], timeout: float = 60) -> list[dict[str, Any]]:
    """Start a crawl and return every event of it, up to its crawl.done."""
    async with service.connect(f"request_id={crawl_id}&since=0") as ws:
        status, answer = await service.call("PUT", f"/crawls/{crawl_id}", json=body)
        assert status == 201, answer
        return await receive_until(ws, lambda fs: any(f["type"] == DONE for f in fs), timeout)


def pages(frames: list[dict[str, Any]], site: CrawlSite) -> set[str]:
    return {frame["url"].removeprefix(site.origin) for frame in frames if frame["type"] == "page"}


async def test_depth_one_fetches_the_seed_and_its_in_scope_links_once_each(
    crawler: Service, crawl_site: CrawlSite
) -> None:
    frames = await crawl(crawler, "d1", {"url": crawl_site.url("/")})
    assert pages(frames, crawl_site) == {"/", "/a", "/b", "/c", "/broken", "/calendar/2026/1"}
    skipped = [frame for frame in frames if frame["type"] == "skipped"]
    # robots.txt disallows /private/; /redirect-to-a leads to /a, which this crawl has admitted: not followed
    assert {(frame["url"], frame["reason"]) for frame in skipped} == {
        (crawl_site.url("/private/x"), "robots"),
        (crawl_site.url("/redirect-to-a"), "duplicate"),
    }
    done = frames[-1]
    assert done["type"] == DONE and done["cancelled"] is False
    counts = done["counts"]
    assert (counts["fetched"], counts["failed"], counts["queued"]) == (5, 1, 0)
    # /redirect-to-a ends at /a, which this crawl fetches too: one of them is a duplicate, never fetched twice
    assert counts["skipped"]["duplicate"] >= 1 and counts["skipped"]["robots"] == 1 and counts["skipped"]["scope"] == 1
    assert all(count == 1 for path, count in crawl_site.requests.items() if path != "/robots.txt"), crawl_site.requests
    assert crawl_site.requests["/robots.txt"] == 1
    seed = next(frame for frame in frames if frame["type"] == "page" and frame["url"] == crawl_site.url("/"))
    assert seed["depth"] == 0 and seed["referrer"] is None and seed["status_code"] == 200
    assert crawl_site.url("/c#top") in seed["links"] and "mailto:x@example.com" not in seed["links"]
    child = next(frame for frame in frames if frame["type"] == "page" and frame["url"] == crawl_site.url("/b"))
    assert (child["depth"], child["referrer"]) == (1, crawl_site.url("/"))
    broken = next(frame for frame in frames if frame["type"] == "page" and frame["url"] == crawl_site.url("/broken"))
    assert broken["error"]["code"] == "http_status"


async def test_depth_zero_fetches_the_seeds_only(crawler: Service, crawl_site: CrawlSite) -> None:
    frames = await crawl(crawler, "d0", {"urls": [crawl_site.url("/"), crawl_site.url("/b")], "max_depth": 0})
    assert pages(frames, crawl_site) == {"/", "/b"}
    assert frames[-1]["counts"]["skipped"]["depth"] > 0


async def test_max_pages_holds_in_a_calendar_trap(crawler: Service, crawl_site: CrawlSite) -> None:
    frames = await crawl(crawler, "trap", {"url": crawl_site.url("/calendar/2026/1"), "max_depth": 100,
                                           "max_pages": 15})  # fmt: skip
    fetched = [frame for frame in frames if frame["type"] == "page"]
    assert len(fetched) == 15
    assert frames[-1]["counts"]["skipped"]["page_limit"] == 1  # the 16th month, once
    assert sum(crawl_site.requests[path] for path in crawl_site.requests if path.startswith("/calendar/")) == 15


async def test_deeper_crawls_follow_cycles_without_repeating_a_page(crawler: Service, crawl_site: CrawlSite) -> None:
    frames = await crawl(crawler, "deep", {"url": crawl_site.url("/"), "max_depth": 3, "exclude": ["/calendar/*"]})
    assert pages(frames, crawl_site) == {
        "/", "/a", "/b", "/c", "/broken", "/a/deep", "/a/deep/deeper", "/b1", "/b2", "/slow", "/after-slow",
    }  # fmt: skip
    assert frames[-1]["counts"]["skipped"]["pattern"] == 1
    assert max(crawl_site.requests.values()) == 1


async def test_links_repeated_on_every_page_count_exactly_as_the_graph_says(crawler: Service, tmp_path: Path) -> None:
    # A site whose every page carries the same menu (as real sites do): each page's menu links are judged once per
    # page by the rules, and each mention after a page is recorded is a duplicate, however the workers interleave.
    site = LocalSite()
    menu = [f"/m{n}" for n in range(6)]
    off_menu = ["/skip/1", "http://localhost/elsewhere"]  # a pattern and the scope refuse these, on every page
    for path in menu:
        site.page(path, html(*menu, *off_menu))
    await site.start()
    try:
        frames = await crawl(crawler, "menus", {"url": site.url("/m0"), "max_depth": 3, "exclude": ["/skip/*"]})
    finally:
        await site.stop()
    counts = frames[-1]["counts"]
    assert counts["fetched"] == 6 and counts["queued"] == 0
    # 6 pages x 6 menu links are 36 mentions; 5 of them admitted a page (the seed was admitted as a seed)
    assert counts["skipped"]["duplicate"] == 36 - 5
    assert counts["skipped"]["pattern"] == 6 and counts["skipped"]["scope"] == 6


async def test_a_redirect_into_what_robots_disallows_is_not_followed(crawler: Service, crawl_site: CrawlSite) -> None:
    crawl_site.route("/to-private", _redirect_to("/private/y"))
    frames = await crawl(crawler, "robots-redirect", {"url": crawl_site.url("/to-private"), "max_depth": 0})
    assert crawl_site.requests["/private/y"] == 0
    [skipped] = [frame for frame in frames if frame["type"] == "skipped"]
    assert skipped["url"] == crawl_site.url("/to-private") and skipped["reason"] == "robots"


async def test_a_crawl_without_robots_follows_a_redirect_robots_would_refuse(
    crawler: Service, crawl_site: CrawlSite
) -> None:
    crawl_site.route("/to-private", _redirect_to("/private/y"))
    body = {"url": crawl_site.url("/to-private"), "max_depth": 0, "respect_robots": False}
    frames = await crawl(crawler, "no-robots-redirect", body)
    assert crawl_site.requests["/private/y"] == 1
    [page] = [frame for frame in frames if frame["type"] == "page"]
    assert page["final_url"] == crawl_site.url("/private/y")


def _redirect_to(location: str):  # type: ignore[no-untyped-def]
    async def handler(_request: web.Request) -> web.StreamResponse:
        return web.Response(status=302, headers={"Location": location})

    return handler


async def test_respect_robots_off_fetches_what_robots_disallows(crawler: Service, crawl_site: CrawlSite) -> None:
    frames = await crawl(crawler, "norobots", {"url": crawl_site.url("/private/x"), "respect_robots": False})
    assert pages(frames, crawl_site) == {"/private/x", "/private/y"}
    assert crawl_site.requests["/robots.txt"] == 0


async def test_scopes(crawler: Service, crawl_site: CrawlSite) -> None:
    seed = {"url": crawl_site.url("/"), "exclude": ["/calendar/*", "/private/*"]}
    same_host = await crawl(crawler, "host", seed)
    anywhere = await crawl(crawler, "any", {**seed, "scope": "any"})
    assert crawl_site.other + "/offsite" not in {frame.get("url") for frame in same_host}
    assert crawl_site.other + "/offsite" in {frame["url"] for frame in anywhere if frame["type"] == "page"}


async def test_include_patterns_narrow_the_crawl(crawler: Service, crawl_site: CrawlSite) -> None:
    frames = await crawl(crawler, "inc", {"url": crawl_site.url("/"), "max_depth": 3, "include": ["/a*"]})
    assert pages(frames, crawl_site) == {"/", "/a", "/a/deep", "/a/deep/deeper"}


async def test_sitemaps_seed_the_crawl(crawler: Service, crawl_site: CrawlSite) -> None:
    frames = await crawl(crawler, "maps", {"url": crawl_site.url("/c"), "max_depth": 0, "sitemaps": True})
    assert pages(frames, crawl_site) == {"/c", "/", "/from-sitemap"}
    assert crawl_site.requests["/sitemap.xml"] == 1


async def test_a_crawl_is_idempotent_and_listed_and_its_pages_read_in_pages(
    crawler: Service, crawl_site: CrawlSite
) -> None:
    body = {"url": crawl_site.url("/"), "max_depth": 1}
    frames = await crawl(crawler, "pages", body)
    status, again = await crawler.call("PUT", "/crawls/pages", json=body)
    assert status == 200 and again["state"] == "done"
    status, conflict = await crawler.call("PUT", "/crawls/pages", json={**body, "max_depth": 2})
    assert (status, conflict["error"]["code"]) == (409, "conflict")
    read: list[dict[str, Any]] = []
    after = ""
    while True:
        status, page = await crawler.call("GET", f"/crawls/pages/pages?limit=2{after}")
        assert status == 200
        read.extend(page["pages"])
        if page["next"] is None:
            break
        after = f"&after={page['next']}"
    assert [item["url"] for item in read] == [frame["url"] for frame in frames if frame["type"] in ("page", "skipped")]
    status, listed = await crawler.call("GET", "/crawls")
    assert [item["crawl_id"] for item in listed["crawls"]] == ["pages"]
    status, record = await crawler.call("GET", "/crawls/pages")
    assert record["counts"] == frames[-1]["counts"] and record["finished_at"] is not None


async def test_progress_events_come_at_most_once_a_second(tmp_path: Path) -> None:
    site = CrawlSite(slow_seconds=0.3)
    await site.start()
    service = Service("--allow-private-networks", "--workers", "2", store="memory://", log_path=tmp_path / "s.log")
    await service.start()
    try:
        frames = await crawl(service, "progress", {"url": site.url("/calendar/2026/1"), "max_depth": 50,
                                                   "max_pages": 40})  # fmt: skip
    finally:
        service.stop()
        await site.stop()
    progress = [frame for frame in frames if frame["type"] == "crawl.progress"]
    assert progress, "a crawl of several seconds reports its progress"
    assert all(frame["counts"]["fetched"] > 0 for frame in progress)


async def test_cancel_stops_the_crawl_and_says_so(tmp_path: Path) -> None:
    site = CrawlSite()
    await site.start()
    service = Service("--allow-private-networks", "--workers", "1", "--per-host-delay", "0.2", store="memory://",
                      log_path=tmp_path / "s.log")  # fmt: skip
    await service.start()
    try:
        async with service.connect("request_id=c&since=0") as ws:
            await service.call("PUT", "/crawls/c", json={"url": site.url("/calendar/2026/1"), "max_depth": 100})
            await receive_until(ws, lambda fs: sum(f["type"] == "page" for f in fs) >= 3, 30)
            status, record = await service.call("DELETE", "/crawls/c")
            assert status == 200 and record["state"] == "cancelled"
            frames = await receive_until(ws, lambda fs: any(f["type"] == DONE for f in fs), 30)
        assert frames[-1]["cancelled"] is True
        fetched_then = sum(site.requests.values())
        await asyncio.sleep(1.0)  # nothing more may be fetched: looking a while later, the count has not moved
        assert sum(site.requests.values()) <= fetched_then + 1  # at most the one fetch that was running
        status, record = await service.call("DELETE", "/crawls/c")
        assert status == 200 and record["state"] == "cancelled"
        assert (await service.call("DELETE", "/crawls/nobody"))[0] == 404
    finally:
        service.stop()
        await site.stop()


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "missing_url"),
        ({"url": "ftp://x.example/"}, "invalid_url"),
        ({"url": "https://x.example/", "max_page": 3}, "unknown_option"),
        ({"url": "https://x.example/", "max_pages": 10_001}, "max_pages_too_large"),
        ({"url": "https://x.example/", "scope": "galaxy"}, "invalid_option"),
        ({"url": "https://x.example/", "include": ["/a b"]}, "invalid_pattern"),
        ({"url": "http://127.0.0.1/"}, "blocked"),
        ({"urls": ["https://x.example/", "http://0x7f.1/"]}, "blocked"),
        ({"url": "http://localhost./"}, "blocked"),
        ({"url": "https://x.example/", "webhook": {"url": "http://[::ffff:127.0.0.1]/"}}, "blocked"),
        ({"url": "https://x.example/", "webhook": {"url": "http://sub.localhost/"}}, "blocked"),
    ],
)
async def test_a_bad_crawl_is_a_clear_400(api_only: Service, body: dict[str, Any], code: str) -> None:
    status, answer = await api_only.call("PUT", "/crawls/bad", json=body)
    assert status == 400 and answer["error"]["code"] == code, answer
    assert (await api_only.call("GET", "/crawls/bad"))[0] == 404


async def test_a_single_url_is_not_held_up_by_a_big_crawl_of_another_host(tmp_path: Path) -> None:
    """Fair queuing by host: the single URL runs after at most a few of the crawl's jobs, not after all of them."""
    tree = TreeSite(400, delay=0.05)
    await tree.start()
    other = CrawlSite()
    await other.start()
    service = Service("--allow-private-networks", "--rate-limit", "0", "--workers", "4",
                      "--per-host-concurrency", "4", store="memory://", log_path=tmp_path / "s.log")  # fmt: skip
    await service.start()
    try:
        async with service.connect() as ws:
            await service.call("PUT", "/crawls/big", json={"url": tree.url("/p/0"), "max_depth": 20,
                                                          "max_pages": 400, "respect_robots": False})  # fmt: skip
            await receive_until(ws, lambda fs: sum(f["type"] == "page" for f in fs) >= 20, 60)
            await service.put("single", f"{other.other}/b2")  # localhost: another host than the crawl's
            frames = await receive_until(ws, lambda fs: any(f.get("request_id") == "single" and
                                                           f["type"] == "result" for f in fs), 60)  # fmt: skip
        crawl_pages_before = [f for f in frames if f["type"] == "page"]
        assert not any(f["type"] == DONE for f in frames), "the single URL waited for the whole crawl"
        assert len(crawl_pages_before) < 60  # 20 before it was submitted, a few more while it waited its turn
    finally:
        service.stop()
        await tree.stop()
        await other.stop()


async def test_a_crawl_still_ends_while_single_requests_keep_coming(tmp_path: Path) -> None:
    """Single requests go first (``foreground``): a crawl's steps wait while one is on its way, but only so long,
    so a stream of them slows a crawl down and never stops it. Every single request ends too, and no page twice."""
    tree = TreeSite(40, delay=0.05)  # 0.5 s at least with 4 workers
    await tree.start()
    other = CrawlSite()
    await other.start()
    service = Service("--allow-private-networks", "--rate-limit", "0", "--workers", "4",
                      store=f"sqlite:///{tmp_path}/s.db", log_path=tmp_path / "s.log")  # fmt: skip
    await service.start()
    singles: list[str] = []
    crawl_done = asyncio.Event()

    async def keep_submitting() -> None:  # single requests one after the other, until the crawl ends
        while not crawl_done.is_set():
            request_id = f"single-{len(singles)}"
            assert (await service.put(request_id, f"{other.other}/b2"))[0] == 201
            singles.append(request_id)
            await asyncio.sleep(0.01)

    def ended(frames: list[dict[str, Any]]) -> set[str]:
        return {f["request_id"] for f in frames if f["type"] in ("result", "error")}

    try:
        async with service.connect() as ws:
            submitting = asyncio.create_task(keep_submitting())
            await service.call("PUT", "/crawls/busy", json={"url": tree.url("/p/0"), "max_depth": 10,
                                                            "max_pages": 40, "respect_robots": False})  # fmt: skip
            frames = await receive_until(ws, lambda fs: any(f["type"] == DONE for f in fs), 90)
            crawl_done.set()
            await asyncio.wait_for(submitting, 30)
            frames += await receive_until(ws, lambda fs: ended(frames + fs) >= set(singles), 60)
    finally:
        service.stop()
        await tree.stop()
        await other.stop()
    [done] = [f for f in frames if f["type"] == DONE]
    assert done["counts"]["fetched"] == 40 and not done.get("cancelled")
    assert len(singles) >= 5  # requests kept coming while the crawl ran
    assert {f["request_id"] for f in frames if f["type"] == "result"} >= set(singles)  # each ended in its result
    assert max(tree.requests.values()) == 1


async def test_a_link_to_a_refused_address_ends_as_a_blocked_page_not_a_robots_skip(tmp_path: Path) -> None:
    site = CrawlSite()
    refused = "http://127.0.0.1:9/private"  # loopback, but not on the allow list: nothing may be sent there
    site.page("/refusing", html(refused))
    await site.start()
    service = Service("--allow-hosts", f"127.0.0.1:{site.port}", store="memory://", log_path=tmp_path / "s.log")
    await service.start()
    try:
        frames = await crawl(service, "refused", {"url": site.url("/refusing"), "scope": "any"})
    finally:
        service.stop()
        await site.stop()
    [page] = [f for f in frames if f["type"] == "page" and f["url"] == refused]
    assert page["error"]["code"] == "blocked"
    assert not [f for f in frames if f["type"] == "skipped"]


async def test_hostile_pages_inside_a_crawl_end_as_page_errors(tmp_path: Path) -> None:
    hostile = HostileSite()
    await hostile.start()
    seed_site = CrawlSite()
    seed_site.page("/hostile", html(*(case.url for case in hostile.cases.values())))
    await seed_site.start()
    allowed = f"127.0.0.1:{hostile.port},127.0.0.1:{hostile.silent_port},127.0.0.1:{seed_site.port}"
    service = Service(
        "--allow-hosts", allowed, "--fetch-timeout", "4", "--read-timeout", "1.5", "--max-links", "100000",
        "--workers", "12", "--per-host-concurrency", "32", "--parse-timeout", "8", "--rate-limit", "0",
        store="memory://", log_path=tmp_path / "s.log",
    )  # fmt: skip
    await service.start()
    try:
        frames = await crawl(service, "hostile", {"url": seed_site.url("/hostile"), "scope": "any",
                                                  "respect_robots": False, "max_pages": 200}, timeout=120)  # fmt: skip
        assert service.process is not None and service.process.poll() is None, "the service died"
    finally:
        service.stop()
        await hostile.stop()
        await seed_site.stop()
    outcomes = {f["url"]: ("result" if "error" not in f else f["error"]["code"]) for f in frames if f["type"] == "page"}
    expected = {case.url: case.expect for case in hostile.cases.values()}
    # The chain and loop cases redirect through URLs the crawl also admits: their hops may be duplicates instead.
    for url, expect in expected.items():
        got = outcomes.get(url, "skipped")
        assert got == expect or (expect in ("redirect_loop", "too_many_redirects") and got in (expect, "skipped")), (
            url, got, expect,
        )  # fmt: skip
    assert frames[-1]["type"] == DONE


async def test_judging_a_page_of_many_links_leaves_the_service_answering(crawler: Service, site: LocalSite) -> None:
    """Each link of a crawled page is judged against every pattern on the event loop: 30,000 links against 100
    patterns is seconds of work, which held every other request (here /healthz) until it was done."""
    links = "".join(f'<a href="/{n}">{n}</a>' for n in range(30_000))
    seed = site.page("/many", f"<html><body>{links}</body></html>")
    include = [f"/x{i}/*" for i in range(100)]  # none matches: every pattern is tried on every link
    async with crawler.connect("request_id=many&since=0") as ws, aiohttp.ClientSession() as session:
        status, answer = await crawler.call("PUT", "/crawls/many", json={"url": seed, "include": include})
        assert status == 201, answer
        done = asyncio.create_task(receive_until(ws, lambda fs: any(f["type"] == DONE for f in fs), 120))
        slowest = await slowest_health_check(crawler, done, session)
        frames = await done
    [finished] = [frame for frame in frames if frame["type"] == DONE]
    assert finished["counts"]["skipped"]["pattern"] == 30_000, finished
    assert slowest < 1.5, f"/healthz waited {slowest:.1f} s while the page's links were judged"


async def test_judging_the_pages_a_sitemap_lists_leaves_the_service_answering(
    crawler: Service, site: LocalSite
) -> None:
    """A seed's sitemaps may list 50,000 pages, each judged against every pattern on the event loop like a page's
    links: that held every other request (here /healthz) until it was done."""
    seed = site.page("/", "<html><body>seed</body></html>")
    entries = "".join(f"<url><loc>{site.url(f'/{n}')}</loc></url>" for n in range(50_000))
    site.page("/sitemap.xml", f"<urlset>{entries}</urlset>", content_type="application/xml")
    include = [f"/x{i}/*" for i in range(100)]  # none matches: every pattern is tried on every page listed
    body = {"url": seed, "include": include, "sitemaps": True, "respect_robots": False}
    async with crawler.connect("request_id=listed&since=0") as ws, aiohttp.ClientSession() as session:
        status, answer = await crawler.call("PUT", "/crawls/listed", json=body)
        assert status == 201, answer
        done = asyncio.create_task(receive_until(ws, lambda fs: any(f["type"] == DONE for f in fs), 120))
        slowest = await slowest_health_check(crawler, done, session)
        frames = await done
    assert [frame["url"] for frame in frames if frame["type"] == "page"] == [seed]
    assert slowest < 1.5, f"/healthz waited {slowest:.1f} s while the sitemap's pages were judged"
