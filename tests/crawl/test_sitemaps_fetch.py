"""Finding a site's pages in its sitemaps, against local sites on loopback (127.0.0.1, and localhost: another host)."""

from __future__ import annotations

import asyncio
import gzip
import threading
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from linkcast.crawl.robots import ALLOW_ALL, parse_robots
from linkcast.crawl.sitemaps import SitemapLimits
from linkcast.crawl.sitemaps_fetch import discover_sitemap_urls
from linkcast.fetch import Fetcher
from linkcast.reading_threads import READING_THREADS, SITEMAP_THREADS, read_in_thread, read_sitemap_in_thread
from linkcast.settings import Settings
from tests.support.site import LocalSite


class RecordingSite(LocalSite):
    """A local site that remembers every path requested of it."""

    def __init__(self) -> None:
        super().__init__()
        self.requested: list[str] = []

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        self.requested.append(request.path)
        return await super()._dispatch(request)


@pytest.fixture
async def site() -> AsyncIterator[RecordingSite]:
    local = RecordingSite()
    await local.start()
    yield local
    await local.stop()


@pytest.fixture
async def other_host() -> AsyncIterator[RecordingSite]:
    """Another host: reached as http://localhost:PORT, a host name other than the site's 127.0.0.1."""
    local = RecordingSite()
    await local.start()
    yield local
    await local.stop()


@pytest.fixture
async def fetcher(site: RecordingSite, other_host: RecordingSite) -> AsyncIterator[Fetcher]:
    allowed = f"127.0.0.1:{site.port},localhost:{other_host.port}"
    made = Fetcher(Settings(allow_hosts=allowed, retries=0))
    await made.open()
    yield made
    await made.close()


def urlset(*locs: str) -> bytes:
    entries = "".join(f"<url><loc>{loc}</loc></url>" for loc in locs)
    return f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</urlset>'.encode()


def index(*locs: str) -> bytes:
    entries = "".join(f"<sitemap><loc>{loc}</loc></sitemap>" for loc in locs)
    return f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{entries}</sitemapindex>'.encode()


def xml(site: LocalSite, path: str, body: bytes, content_type: str = "application/xml") -> str:
    return site.page(path, body, content_type=content_type)


def robots(*lines: str) -> Any:
    return parse_robots("\n".join(lines).encode())


async def test_an_index_listed_in_robots_txt_leads_to_every_kind_of_sitemap(
    site: RecordingSite, fetcher: Fetcher
) -> None:
    xml(site, "/pages.xml", urlset(site.url("/a"), site.url("/b")))
    xml(site, "/more.xml.gz", gzip.compress(urlset(site.url("/c"))), content_type="application/gzip")
    site.page("/list.txt", f"{site.url('/d')}\n{site.url('/a')}\n", content_type="text/plain")
    xml(site, "/index.xml", index(site.url("/pages.xml"), site.url("/more.xml.gz"), site.url("/list.txt")))
    found = await discover_sitemap_urls(fetcher, site.origin, robots("Sitemap: /index.xml"))
    assert found == [site.url(p) for p in ("/a", "/b", "/c", "/d")]


async def test_a_gzip_sitemap_sent_with_content_encoding_is_read(site: RecordingSite, fetcher: Fetcher) -> None:
    packed = gzip.compress(urlset(site.url("/a")))

    async def encoded(_request: web.Request) -> web.StreamResponse:
        return web.Response(body=packed, headers={"Content-Type": "application/xml", "Content-Encoding": "gzip"})

    site.route("/sitemap.xml", encoded)
    assert await discover_sitemap_urls(fetcher, site.origin, ALLOW_ALL) == [site.url("/a")]


async def test_without_sitemap_lines_sitemap_xml_is_tried(site: RecordingSite, fetcher: Fetcher) -> None:
    xml(site, "/sitemap.xml", urlset(site.url("/a")))
    assert await discover_sitemap_urls(fetcher, site.origin, ALLOW_ALL) == [site.url("/a")]


async def test_sitemap_xml_is_not_guessed_where_robots_txt_disallows_it(site: RecordingSite, fetcher: Fetcher) -> None:
    xml(site, "/sitemap.xml", urlset(site.url("/a")))
    found = await discover_sitemap_urls(fetcher, site.origin, robots("User-agent: *", "Disallow: /sitemap"))
    assert found == [] and site.requested == []


async def test_a_sitemap_robots_txt_names_is_fetched_even_where_it_disallows(
    site: RecordingSite, fetcher: Fetcher
) -> None:
    xml(site, "/private/sitemap.xml", urlset(site.url("/a")))
    rules = robots("User-agent: *", "Disallow: /private", "Sitemap: /private/sitemap.xml")
    assert await discover_sitemap_urls(fetcher, site.origin, rules) == [site.url("/a")]


async def test_a_cross_host_sitemap_in_robots_txt_gives_only_the_sites_pages(
    site: RecordingSite, other_host: RecordingSite, fetcher: Fetcher
) -> None:
    other = f"http://localhost:{other_host.port}"
    xml(other_host, "/sitemaps/site.xml", urlset(site.url("/a"), f"{other}/own-page"))
    found = await discover_sitemap_urls(fetcher, site.origin, robots(f"Sitemap: {other}/sitemaps/site.xml"))
    assert found == [site.url("/a")]


async def test_pages_on_another_host_are_dropped(
    site: RecordingSite, other_host: RecordingSite, fetcher: Fetcher
) -> None:
    xml(site, "/sitemap.xml", urlset(site.url("/a"), f"http://localhost:{other_host.port}/b", "ftp://127.0.0.1/c"))
    assert await discover_sitemap_urls(fetcher, site.origin, ALLOW_ALL) == [site.url("/a")]


async def test_an_index_of_indexes_is_not_followed(site: RecordingSite, fetcher: Fetcher) -> None:
    xml(site, "/top.xml", index(site.url("/middle.xml"), site.url("/pages.xml")))
    xml(site, "/middle.xml", index(site.url("/deep.xml")))
    xml(site, "/pages.xml", urlset(site.url("/a")))
    xml(site, "/deep.xml", urlset(site.url("/too-deep")))
    found = await discover_sitemap_urls(fetcher, site.origin, robots("Sitemap: /top.xml"))
    assert found == [site.url("/a")] and "/deep.xml" not in site.requested


async def test_at_most_max_sitemaps_are_fetched(site: RecordingSite, fetcher: Fetcher) -> None:
    for n in range(10):
        xml(site, f"/s{n}.xml", urlset(site.url(f"/p{n}")))
    xml(site, "/index.xml", index(*(site.url(f"/s{n}.xml") for n in range(10))))
    limits = SitemapLimits(max_sitemaps=3)
    found = await discover_sitemap_urls(fetcher, site.origin, robots("Sitemap: /index.xml"), limits)
    assert found == [site.url("/p0"), site.url("/p1")] and len(site.requested) == 3


@pytest.mark.parametrize(("others", "read"), [(29, True), (30, False)])
async def test_only_the_first_sitemap_lines_of_robots_txt_are_read_ten_per_sitemap_fetched(
    site: RecordingSite, fetcher: Fetcher, others: int, read: bool
) -> None:
    """Each line is resolved on the event loop: a robots.txt of 51,200 Sitemap lines held it 0.76 s, for a reading
    that fetches --max-sitemaps (100) of them at most."""
    xml(site, "/last.xml", urlset(site.url("/a")))
    asked: list[str] = []

    async def elsewhere(host: str) -> bool:  # another site of the crawl reads sitemaps there
        asked.append(host)
        return False

    lines = [f"Sitemap: http://h{n}.example/s.xml" for n in range(others)] + ["Sitemap: /last.xml"]
    limits = SitemapLimits(max_sitemaps=3)
    found = await discover_sitemap_urls(fetcher, site.origin, robots(*lines), limits, elsewhere)
    assert (found, len(asked)) == (([site.url("/a")] if read else []), others)


async def test_at_most_max_total_urls_are_returned(site: RecordingSite, fetcher: Fetcher) -> None:
    xml(site, "/a.xml", urlset(*(site.url(f"/a{n}") for n in range(30))))
    xml(site, "/b.xml", urlset(*(site.url(f"/b{n}") for n in range(30))))
    limits = SitemapLimits(max_total_urls=40)
    found = await discover_sitemap_urls(fetcher, site.origin, robots("Sitemap: /a.xml", "Sitemap: /b.xml"), limits)
    assert len(found) == 40 and found[-1] == site.url("/b9")


async def test_long_urls_are_taken_up_to_16_mib_of_them_in_all(site: RecordingSite, fetcher: Fetcher) -> None:
    """URLs of 8,000 characters, 500 to a gzipped sitemap (about 4 KB each): 50,000 of them in 100 such sitemaps were
    400 MB held by one crawl's job, read again by each crawl of the site. Their characters stop at 16 MiB in all."""
    for n in range(6):
        body = urlset(*(site.url(f"/s{n}/{i}/" + "x" * 8000) for i in range(500)))
        xml(site, f"/s{n}.xml.gz", gzip.compress(body), content_type="application/octet-stream")
    listed = robots(*(f"Sitemap: /s{n}.xml.gz" for n in range(6)))
    found = await discover_sitemap_urls(fetcher, site.origin, listed, SitemapLimits())
    assert 15 * 1024 * 1024 < sum(map(len, found)) <= 16 * 1024 * 1024
    assert found[0] == site.url("/s0/0/" + "x" * 8000)


async def test_failing_sitemaps_are_skipped(site: RecordingSite, fetcher: Fetcher) -> None:
    site.page("/gone.xml", "no", status=404)
    site.page("/broken.xml", "no", status=500)
    site.route("/metadata.xml", _redirect("http://169.254.169.254/latest/meta-data/"))
    xml(site, "/good.xml", urlset(site.url("/a")))
    rules = robots(
        "Sitemap: /gone.xml", "Sitemap: /broken.xml", "Sitemap: /metadata.xml", "Sitemap: ftp://127.0.0.1/x.xml",
        "Sitemap: http://127.0.0.1:1/refused.xml", "Sitemap: /good.xml",
    )  # fmt: skip
    assert await discover_sitemap_urls(fetcher, site.origin, rules) == [site.url("/a")]


async def test_an_external_entity_naming_a_local_site_is_never_fetched(
    site: RecordingSite, other_host: RecordingSite, fetcher: Fetcher
) -> None:
    secret = other_host.page("/secret", "https://127.0.0.1/stolen", content_type="text/plain")
    body = (
        f'<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY xxe SYSTEM "{secret}">]>'
        f"<urlset><url><loc>&xxe;</loc></url><url><loc>{site.url('/a')}</loc></url></urlset>"
    ).encode()
    xml(site, "/sitemap.xml", body)
    assert await discover_sitemap_urls(fetcher, site.origin, ALLOW_ALL) == []
    assert other_host.requested == [] and site.requested == ["/sitemap.xml"]


async def test_billion_laughs_in_a_fetched_sitemap_ends_it_cleanly(site: RecordingSite, fetcher: Fetcher) -> None:
    laughs = "".join(f'<!ENTITY l{n} "{f"&l{n - 1};" * 10}">' for n in range(1, 10))
    body = f'<?xml version="1.0"?><!DOCTYPE u [<!ENTITY l0 "lol">{laughs}]><urlset><url><loc>&l9;</loc></url></urlset>'
    xml(site, "/laughs.xml", body.encode())
    xml(site, "/good.xml", urlset(site.url("/a")))
    rules = robots("Sitemap: /laughs.xml", "Sitemap: /good.xml")
    assert await discover_sitemap_urls(fetcher, site.origin, rules) == [site.url("/a")]


async def test_a_sitemap_in_an_encoding_expat_cannot_use_is_skipped(site: RecordingSite, fetcher: Fetcher) -> None:
    xml(
        site,
        "/sjis.xml",
        urlset(site.url("/x")).replace(b"<urlset", b'<?xml version="1.0" encoding="Shift_JIS"?><urlset'),
    )
    xml(site, "/good.xml", urlset(site.url("/a")))
    rules = robots("Sitemap: /sjis.xml", "Sitemap: /good.xml")
    assert await discover_sitemap_urls(fetcher, site.origin, rules) == [site.url("/a")]


async def test_sitemaps_read_at_length_leave_every_reading_thread_to_the_feeds(
    site: RecordingSite, fetcher: Fetcher
) -> None:
    """A sitemap takes up to --parse-timeout to read whatever it weighs on the wire: 57 KB of gzip, 50 MiB of tiny
    elements, 5 s of a core. Read in the threads that read feeds, a crawl's sitemaps (a seed's job reads up to 100,
    and as many seeds at once as there are workers) kept every feed's reading waiting, and a poll or a hub's delivery
    that waited 10 s failed too_complex (a 1-entry feed, seen with --workers 24 and 16 sites). Sitemaps have threads
    of their own: while as many as there are reading threads are read, a feed's reading is not kept waiting."""
    bomb = gzip.compress(b"<urlset><url><a>" + b"<b/>" * (14 * 1024 * 1024) + b"</a></url></urlset>", 9)
    xml(site, "/bomb.xml", bomb)
    rules, limits = robots("Sitemap: /bomb.xml"), SitemapLimits(max_seconds=3.0)
    readings = [
        asyncio.create_task(discover_sitemap_urls(fetcher, site.origin, rules, limits)) for _ in range(READING_THREADS)
    ]
    try:
        async with asyncio.timeout(20):
            while not all(map(_handed_to_a_thread, readings)):
                await asyncio.sleep(0.01)
        assert await read_in_thread(str, "a feed") == "a feed"
        assert not any(reading.done() for reading in readings), "a feed waited for a sitemap's thread"
    finally:
        for reading in readings:
            reading.cancel()
        await asyncio.gather(*readings, return_exceptions=True)
        # The readings under way go on in their threads to their deadline (a thread cannot be stopped): the next
        # test's sitemaps would wait behind them.
        both_free = threading.Barrier(SITEMAP_THREADS, timeout=30)
        await asyncio.gather(*(read_sitemap_in_thread(both_free.wait) for _ in range(SITEMAP_THREADS)))


def _handed_to_a_thread(task: asyncio.Task[Any]) -> bool:
    """Whether ``task`` waits for a thread to read its sitemap: its innermost coroutine is the one handing it over."""
    awaited: Any = task.get_coro()
    innermost = ""
    while hasattr(awaited, "cr_code"):  # down the coroutines each awaits, to the future of the thread's work
        innermost, awaited = awaited.cr_code.co_name, awaited.cr_await
    return innermost in ("read_in_thread", "read_sitemap_in_thread", "_run")


async def test_slow_sitemaps_hold_the_crawl_for_a_bounded_time_in_all(site: RecordingSite) -> None:
    """Each sitemap is one fetch, but a site names up to --max-sitemaps of them, read one after the other by the job
    of one seed: at --fetch-timeout each (a server that trickles a byte now and then), a single crawl would hold its
    worker for 100 x 30 s. The whole reading has twice --fetch-timeout; what was found by then is kept."""
    xml(site, "/fast.xml", urlset(site.url("/a")))

    async def trickle(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/xml"})
        await response.prepare(request)
        for _ in range(200):  # 40 s at most; the fetcher hangs up long before
            await response.write(b" ")
            await asyncio.sleep(0.2)
        return response

    slow = [f"/slow{n}.xml" for n in range(6)]
    for path in slow:
        site.route(path, trickle)
    settings = Settings(allow_hosts=f"127.0.0.1:{site.port}", retries=0, fetch_timeout=1.0, read_timeout=0.5)
    slow_fetcher = Fetcher(settings)
    await slow_fetcher.open()
    try:
        rules = robots("Sitemap: /fast.xml", *(f"Sitemap: {path}" for path in slow))
        found = await asyncio.wait_for(
            discover_sitemap_urls(slow_fetcher, site.origin, rules, SitemapLimits.from_settings(settings)), 30
        )
    finally:
        await slow_fetcher.close()
    assert found == [site.url("/a")]
    # Read one after the other, each cut at --fetch-timeout, within twice that in all: the third at most was begun,
    # not all six (counted, not timed: a loaded machine stretches every wait alike).
    assert 1 <= len([path for path in site.requested if path in slow]) <= 3, site.requested


def _redirect(to: str) -> Any:
    async def handler(_request: web.Request) -> web.StreamResponse:
        return web.Response(status=302, headers={"Location": to})

    return handler
