"""The per-process robots.txt cache: one fetch per site while an answer is fresh, and bounded in sites and in the size
of what it keeps, against local sites on loopback (each its own port: its own site)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from linkcast.crawl.robots_cache import ENTRY_BYTES, RobotsCache
from linkcast.fetch import Fetcher
from linkcast.settings import Settings
from tests.support.site import LocalSite

SITES = 4
BIG_ROBOTS = b"User-agent: *\n" + b"".join(b"Disallow: /private/%06d*x\n" % n for n in range(4000))


class CountingSite(LocalSite):
    """A site whose robots.txt is ``body``, counting how often it is fetched."""

    def __init__(self, body: bytes) -> None:
        super().__init__()
        self.robots_fetches = 0
        self.route("/robots.txt", self._robots)
        self.body = body

    async def _robots(self, _request: web.Request) -> web.StreamResponse:
        self.robots_fetches += 1
        return web.Response(body=self.body, content_type="text/plain")


@pytest.fixture
async def sites() -> AsyncIterator[list[CountingSite]]:
    made = [CountingSite(BIG_ROBOTS) for _ in range(SITES)]
    for site in made:
        await site.start()
    yield made
    for site in made:
        await site.stop()


@pytest.fixture
async def fetcher() -> AsyncIterator[Fetcher]:
    opened = Fetcher(Settings(allow_private_networks=True, retries=0))
    await opened.open()
    yield opened
    await opened.close()


async def test_a_fresh_answer_is_fetched_once_per_site(sites: list[CountingSite], fetcher: Fetcher) -> None:
    cache = RobotsCache(fetcher)
    for _ in range(3):
        for site in sites:
            answer, _ = await cache.answer_for(site.url("/private/000001/x"))
            assert not answer.rules.allows("/private/000001/x", "linkcast")
    assert [site.robots_fetches for site in sites] == [1] * SITES and len(cache) == SITES


async def test_big_robots_files_are_forgotten_least_recent_first_past_the_byte_bound(
    sites: list[CountingSite], fetcher: Fetcher
) -> None:
    # Room for two of these files: parsed, each would take ten times its size, and a hostile crawl can visit
    # thousands of sites, so the cache is bounded by what it keeps, not only by how many sites.
    cache = RobotsCache(fetcher, max_bytes=2 * (len(BIG_ROBOTS) + ENTRY_BYTES))
    for site in sites:
        _, fetched_now = await cache.answer_for(site.url("/"))
        assert fetched_now
    assert len(cache) == 2
    assert not (await cache.answer_for(sites[-1].url("/")))[1]  # the two most recent are kept
    assert not (await cache.answer_for(sites[-2].url("/")))[1]
    assert (await cache.answer_for(sites[0].url("/")))[1]  # the first was forgotten: fetched again
    assert [site.robots_fetches for site in sites] == [2, 1, 1, 1]
    assert len(cache) == 2


async def test_one_answer_bigger_than_the_bound_is_still_kept_until_the_next(
    sites: list[CountingSite], fetcher: Fetcher
) -> None:
    cache = RobotsCache(fetcher, max_bytes=100)
    assert (await cache.answer_for(sites[0].url("/")))[1]
    assert not (await cache.answer_for(sites[0].url("/")))[1] and len(cache) == 1
    assert (await cache.answer_for(sites[1].url("/")))[1] and len(cache) == 1


async def test_small_answers_are_bounded_by_the_number_of_sites(sites: list[CountingSite], fetcher: Fetcher) -> None:
    for site in sites:
        site.body = b""
    cache = RobotsCache(fetcher, max_sites=3)
    for site in sites:
        await cache.answer_for(site.url("/"))
    assert len(cache) == 3
    assert (await cache.answer_for(sites[0].url("/")))[1]


async def test_a_fetch_cut_short_by_its_own_job_leaves_the_jobs_waiting_for_it_an_answer(fetcher: Fetcher) -> None:
    # A crawl's redirect to another site asks that site's robots.txt inside the page's fetch deadline. When the
    # deadline cancelled that fetch, every job of the site waiting for the same fetch got its CancelledError, as if
    # it had been cancelled itself: its worker gave its job back and stopped for good (a slow robots.txt and a few
    # redirects took the workers one by one).
    slow = CountingSite(b"User-agent: *\nDisallow: /private/\n")
    first_asked = asyncio.Event()

    async def robots(request: web.Request) -> web.StreamResponse:
        slow.robots_fetches += 1
        if slow.robots_fetches == 1:
            first_asked.set()
            await asyncio.sleep(30)  # the first fetch is cut short by its job's deadline before this
        return web.Response(body=slow.body, content_type="text/plain")

    slow.route("/robots.txt", robots)
    async with slow:
        cache = RobotsCache(fetcher)

        async def redirected_job() -> None:
            async with asyncio.timeout(0.5):
                await cache.answer_for(slow.url("/private/a"))

        cut_short = asyncio.create_task(redirected_job())
        await asyncio.wait_for(first_asked.wait(), 5)
        waiting = asyncio.create_task(cache.answer_for(slow.url("/private/b")))
        with pytest.raises(TimeoutError):
            await cut_short
        answer, _ = await asyncio.wait_for(waiting, 10)
        assert not answer.rules.allows("/private/b", "linkcast")
