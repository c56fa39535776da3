"""HTML nested thousands deep, wherever a feed brings it: a watched page, an entry's content, a page searched for its
feed. Building its tree takes time quadratic in the depth (2 MB of nested <div> is minutes, 10 MB hours), and a
thread cannot be stopped: each such document is read in an extraction child, killed at --parse-timeout, and ends in
one clear error while everything else goes on."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import psutil
import pytest

from tests.feeds.test_polling import of_type, watch
from tests.feeds.test_scorecard import sqlite_poller
from tests.support.feed_site import Feed, FeedServer, rss
from tests.support.service import Service, receive_until, slowest_health_check

PARSE_TIMEOUT = 1.0
DEPTH = 400_000  # some minutes of a thread to read, on this machine
NESTED_PAGE = "<html><body>" + "<div>" * DEPTH + '<a href="/x">x</a></body></html>'
# The same markup escaped as an RSS entry's description: its content, whose links are read.
NESTED_ITEM = (
    "<item><guid>deep</guid><title>Deep</title><description>"
    + "&lt;div&gt;" * (DEPTH // 4)  # an entry's content is read up to 1 MiB
    + "&lt;a href=&quot;/x&quot;&gt;x&lt;/a&gt;"  # a link: content without one is not parsed for links at all
    + "</description></item>"
)


@pytest.fixture
async def poller(tmp_path: Path) -> AsyncIterator[Service]:
    service = sqlite_poller(tmp_path, "--parse-timeout", str(PARSE_TIMEOUT))
    await service.start()
    yield service
    service.stop()


async def first_error_and_a_healthy_feed(poller: Service, server: FeedServer, hostile: str, **options: str) -> None:
    """``hostile`` watched beside a healthy feed: its poll ends in ``too_complex`` within seconds, the healthy feed's
    entry arrives, /healthz answers throughout, and nothing goes on reading the document after its error (a thread
    would, for minutes, at a whole core)."""
    healthy = server.feed("/healthy.xml", Feed(rss(("a", "A"))))
    async with aiohttp.ClientSession() as session, poller.connect("since=0") as ws:
        began = time.monotonic()
        await watch(poller, "hostile", hostile, **options)
        await watch(poller, "healthy", healthy)
        waiting = asyncio.create_task(
            receive_until(
                ws,
                lambda fs: bool(of_type(fs, "feed.error")) and any(f.get("request_id") == "healthy" for f in fs),
                60,
            )
        )
        slowest = await slowest_health_check(poller, waiting, session)
        frames = await waiting
    [error, *_] = [frame for frame in of_type(frames, "feed.error") if frame["request_id"] == "hostile"]
    assert error["error"]["code"] == "too_complex", error
    assert time.monotonic() - began < 30, "the read was stopped at its deadline, not run to its end"
    assert [f["entry_id"] for f in of_type(frames, "feed.entry") if f["request_id"] == "healthy"] == ["a"]
    assert slowest < 1.5, f"/healthz waited {slowest:.1f} s"
    assert poller.process is not None
    service = psutil.Process(poller.process.pid)
    before = sum(service.cpu_times()[:2])
    await asyncio.sleep(3)
    assert sum(service.cpu_times()[:2]) - before < 1.5, "the service kept a core busy after the error"


async def test_a_watched_page_nested_too_deep_ends_in_too_complex(poller: Service, server: FeedServer) -> None:
    page = server.feed("/deep.html", Feed(NESTED_PAGE, content_type="text/html"))
    await first_error_and_a_healthy_feed(poller, server, page, watch="links")


async def test_an_entry_whose_content_is_nested_too_deep_ends_in_too_complex(
    poller: Service, server: FeedServer
) -> None:
    feed = rss(("a", "A")).replace("</channel>", NESTED_ITEM + "</channel>")
    await first_error_and_a_healthy_feed(poller, server, server.feed("/deep.xml", Feed(feed)))


async def test_a_page_nested_too_deep_to_find_its_feed_in_is_a_422_and_holds_no_one_up(
    poller: Service, server: FeedServer
) -> None:
    """Searching a page for its feed ran in one thread with no deadline: such a page held every later PUT /feeds of
    a page for hours."""
    deep = server.feed("/deep.html", Feed(NESTED_PAGE, content_type="text/html"))
    site = server.feed(
        "/site.html",
        Feed('<html><head><link rel="alternate" type="application/rss+xml" href="/f.xml"></head></html>', "text/html"),
    )
    server.feed("/f.xml", Feed(rss(("a", "A"))))
    began = time.monotonic()
    hostile = asyncio.create_task(poller.call("PUT", "/feeds/deep", json={"url": deep}))
    await asyncio.sleep(0.5)  # the deep page is being read
    status, body = await poller.call("PUT", "/feeds/site", json={"url": site})
    assert status == 201 and body["url"].endswith("/f.xml"), body
    status, body = await hostile
    assert (status, body["error"]["code"]) == (422, "too_complex"), body
    assert time.monotonic() - began < 30
