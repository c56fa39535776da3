"""The store refuses a write in the middle of a job (the disk fills between two of its writes): the job waits and
runs again, and it is not the page's or the feed's failure. A crawl page's redirect, whose target is marked visited
before it is fetched, was recorded as a failed page (error store_full, its links never followed); a poll that found
the feed's WebSub hub, stored before the poll ends, as the feed's error. In process, on the memory store, which
refuses that one write as a full disk would (when the disk fills cannot be timed from outside)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from quart.typing import TestClientProtocol as Client

from linkcast.core.crawls import CRAWL_ENDED
from linkcast.core.errors import StoreFull
from linkcast.runtime import Runtime
from linkcast.store import Store
from tests.feeds.test_websub import rss_with_hub
from tests.support.feed_site import Feed, FeedServer
from tests.support.in_process import in_process_service
from tests.support.site import LocalSite

WAIT = 30.0


@pytest.fixture
async def service() -> AsyncIterator[tuple[Client, Runtime]]:
    async with in_process_service() as running:
        yield running


def refuse_once(store: Store, method: str) -> list[Any]:
    """``store.<method>`` refused the first time, as by a disk that just filled up; the calls it refused."""
    real = getattr(store, method)
    refused: list[Any] = []

    async def refusing(*args: Any, **kwargs: Any) -> Any:
        if not refused:
            refused.append(args)
            raise StoreFull("the database has no room left")
        return await real(*args, **kwargs)

    setattr(store, method, refusing)
    return refused


async def crawl_through_a_redirect(
    client: Client, runtime: Runtime, site: LocalSite, refused_method: str
) -> tuple[dict[str, Any], list[dict[str, Any]], list[Any]]:
    """Crawl /start, which redirects to /target, which links /leaf, with the store's ``refused_method`` refused
    once: the crawl when it ended, its pages, and the calls refused."""

    async def redirect(_request: web.Request) -> web.StreamResponse:
        return web.Response(status=302, headers={"Location": "/target"})

    site.route("/start", redirect)
    site.page("/target", "<a href='/leaf'>leaf</a>")
    site.page("/leaf", "<p>a leaf</p>")
    refused = refuse_once(runtime.store, refused_method)
    answer = await client.put("/crawls/c", json={"url": site.url("/start"), "max_depth": 2, "respect_robots": False})
    assert answer.status_code == 201, await answer.get_json()
    async with asyncio.timeout(WAIT):
        while (crawl := await (await client.get("/crawls/c")).get_json())["state"] not in CRAWL_ENDED:
            await asyncio.sleep(0.02)
    pages = (await (await client.get("/crawls/c/pages")).get_json())["pages"]
    return crawl, pages, refused


async def test_a_crawl_page_whose_redirect_could_not_be_marked_visited_is_fetched_again(
    service: tuple[Client, Runtime], site: LocalSite
) -> None:
    client, runtime = service
    crawl, pages, refused = await crawl_through_a_redirect(client, runtime, site, "claim_crawl_url")
    assert refused, "the redirect's target was marked visited through the store"
    assert [p for p in pages if "error" in p] == [], pages
    outcomes = {page["url"].removeprefix(site.origin): page.get("final_url", "") for page in pages}
    assert outcomes == {"/start": site.url("/target"), "/leaf": site.url("/leaf")}, outcomes
    assert (crawl["counts"]["fetched"], crawl["counts"]["failed"]) == (2, 0), crawl


async def test_a_poll_whose_websub_hub_could_not_be_stored_is_no_error_of_the_feed(
    service: tuple[Client, Runtime], feed_site: FeedServer
) -> None:
    client, runtime = service
    own = feed_site.url("/feed.xml")
    url = feed_site.feed("/feed.xml", Feed(rss_with_hub("http://127.0.0.1:9/hub", own, ("a", "A"))))
    refused = refuse_once(runtime.store, "swap_subscription")
    answer = await client.put("/feeds/f", json={"url": url})
    assert answer.status_code == 201, await answer.get_json()
    async with asyncio.timeout(WAIT):
        while (record := await (await client.get("/feeds/f")).get_json())["entry_count"] == 0:
            if record["state"] == "error":  # the next poll is --feed-min-interval away: no use waiting
                break
            await asyncio.sleep(0.02)
    assert refused, "the hub the poll found was stored through the store"
    assert (record["state"], record["last_error"]) == ("active", None), record
    events = await runtime.store.events_after(0, ["f"])
    assert [e.type for e in events if e.type == "feed.error"] == []


async def test_a_crawl_page_whose_outcome_was_refused_follows_its_redirect_again(
    service: tuple[Client, Runtime], site: LocalSite
) -> None:
    """Its first run marked the redirect's target visited: run again, it takes the target as a duplicate unless it
    knows it ran before (its attempt, which a refusal leaves above 1)."""
    client, runtime = service
    crawl, pages, refused = await crawl_through_a_redirect(client, runtime, site, "finish_crawl_page")
    assert refused
    outcomes = {page["url"].removeprefix(site.origin): page.get("final_url", page["type"]) for page in pages}
    assert outcomes == {"/start": site.url("/target"), "/leaf": site.url("/leaf")}, outcomes
    assert (crawl["counts"]["fetched"], crawl["counts"]["failed"]) == (2, 0), crawl
