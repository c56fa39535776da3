"""Feeds raced against the real service on SQLite (one service for the module), with sites that hold an answer until
the test lets it go: the same PUT sent many times at once finds the feed once; one OPML list imported twice at once
watches each feed once; a feed removed while its poll waits for a redirect's answer has the redirect not followed."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from aiohttp import web

from tests.support.held_site import HeldSite
from tests.support.service import Service, receive_until
from tests.support.site import LocalSite

AT_ONCE = 50
WAIT = 10.0
# How long the site holds its page for a second request that the PUTs ought not to send.
HOLD = 0.5
IMPORTED = 200


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def service(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Service]:
    """One worker: a request sent after a held answer is released is taken once the poll has ended."""
    folder: Path = tmp_path_factory.mktemp("feed-races")
    running = Service("--allow-private-networks", "--workers", "1", "--rate-limit", "0",
                      store=f"sqlite:///{folder}/s.db", log_path=folder / "s.log")  # fmt: skip
    await running.start()
    yield running
    running.stop()


async def test_the_same_put_of_a_site_s_feed_sent_many_times_at_once_finds_the_feed_once(service: Service) -> None:
    site = LocalSite()
    asked: Counter[str] = Counter()
    second = asyncio.Event()

    async def page(_request: web.Request) -> web.StreamResponse:
        asked["/"] += 1
        if asked["/"] > 1:
            second.set()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(HOLD):
                await second.wait()
        link = '<link rel="alternate" type="application/rss+xml" href="/feed.xml">'
        return web.Response(text=link, content_type="text/html")

    site.route("/", page)
    async with site, aiohttp.ClientSession() as session:
        answers = await asyncio.gather(
            *(service.call("PUT", "/feeds/once", json={"url": site.url("/")}, session=session) for _ in range(AT_ONCE))
        )
    assert Counter(status for status, _ in answers) == {201: 1, 200: AT_ONCE - 1}, answers
    assert {answer["url"] for _, answer in answers} == {site.url("/feed.xml")}
    assert asked["/"] == 1, "the site was asked for its feed by more than one PUT"


async def test_a_redirect_of_a_feed_removed_during_its_poll_is_not_followed(service: Service) -> None:
    moved = lambda: web.Response(status=302, headers={"Location": "/links"})  # noqa: E731
    site = HeldSite("/moved", moved, ["/links", "/after"], page="<a href='/entry'>an entry</a>")
    async with site, service.connect("request_id=removed&request_id=after-removed&since=0") as ws:
        body = {"url": site.url("/moved"), "watch": "links"}
        assert (await service.call("PUT", "/feeds/removed", json=body))[0] == 201
        async with asyncio.timeout(WAIT):
            await site.reached.wait()
        assert (await service.call("DELETE", "/feeds/removed"))[0] == 200
        site.release.set()
        assert (await service.put("after-removed", site.url("/after")))[0] == 201
        frames = await receive_until(ws, lambda fs: any(f.get("request_id") == "after-removed"
                                                        and f.get("type") == "result" for f in fs), WAIT)  # fmt: skip
    assert site.asked["/links"] == 0, "the redirect was followed after DELETE had answered"
    assert [f["type"] for f in frames if f.get("request_id") == "removed"] == ["feed.accepted", "feed.removed"]


async def test_one_opml_list_imported_twice_at_once_watches_each_feed_once(service: Service) -> None:
    urls = [f"http://127.0.0.1:9/feed/{n}.xml" for n in range(IMPORTED)]
    outlines = "".join(f'<outline type="rss" text="{n}" xmlUrl="{url}"/>' for n, url in enumerate(urls))
    opml = f'<?xml version="1.0"?><opml version="2.0"><head/><body>{outlines}</body></opml>'.encode()
    async with aiohttp.ClientSession() as session:
        answers = await asyncio.gather(
            *(service.call("POST", "/feeds/import", data=opml, session=session) for _ in range(2))
        )
        assert [status for status, _ in answers] == [200, 200], answers
        status, listed = await service.call("GET", "/feeds?limit=1000", session=session)
    assert status == 200
    watched = Counter(feed["url"] for feed in listed["feeds"] if feed["url"] in urls)
    assert set(watched) == set(urls) and max(watched.values()) == 1, "a feed of the list is watched twice"
    outcomes = Counter((result["url"], result["status"]) for _, answer in answers for result in answer["results"])
    assert outcomes == {(url, status): 1 for url in urls for status in ("accepted", "existing")}
    ids = {result["url"]: result["feed_id"] for _, answer in answers for result in answer["results"]}
    assert all(ids[feed["url"]] == feed["feed_id"] for feed in listed["feeds"] if feed["url"] in urls)
