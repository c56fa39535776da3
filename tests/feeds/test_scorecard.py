"""The poller against a feed-reader scorecard (in the spirit of rachelbythebay's feed reader tests), request by
request, on the corners test_polling.py leaves: what every request looks like, validators that are odd or a server
that is wrong, what the caching headers and Retry-After make of the next poll's time, redirects that lead nowhere,
a restart, and one poll at a time."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import itertools
import signal
import time
from collections.abc import AsyncIterator
from email.utils import formatdate
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiohttp import web

from tests.feeds.test_polling import FAST, of_type, watch, watched
from tests.support.feed_site import Feed, FeedServer, Seen, rss
from tests.support.service import Service, receive_until

DATED = rss(("a", "A")).replace(
    "<description>d</description>",
    "<description>d</description><lastBuildDate>Sun, 06 Dec 2026 10:00:00 GMT</lastBuildDate>"
    "<pubDate>Sun, 06 Dec 2026 09:00:00 GMT</pubDate>",
)


def sqlite_poller(tmp_path: Path, *flags: str) -> Service:
    return Service("--allow-private-networks", "--rate-limit", "0", *FAST, *flags,
                   store=f"sqlite:///{tmp_path}/l.db", log_path=tmp_path / "serve.log")  # fmt: skip


@pytest.fixture
async def poller(tmp_path: Path) -> AsyncIterator[Service]:
    service = sqlite_poller(tmp_path)
    await service.start()
    yield service
    service.stop()


async def frames_within(ws: Any, seconds: float) -> list[dict[str, Any]]:
    """Every frame that arrives in the next ``seconds`` (an absence to see)."""
    frames: list[dict[str, Any]] = []
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(seconds):
            while True:
                frames.append(orjson.loads(await ws.recv()))
    return frames


def gaps(requests: list[Seen]) -> list[float]:
    return [later.at - earlier.at for earlier, later in itertools.pairwise(requests)]


async def test_every_request_is_one_plain_get_that_names_itself_and_asks_for_a_feed(
    poller: Service, server: FeedServer
) -> None:
    """GET (never HEAD), no query added, no Cookie (though the server sets one), no Referer, one User-Agent, an Accept
    that names the feed types, gzip accepted; and with no validators from the server, none made up from the feed's
    dates or a clock; a 304 sends nothing."""
    feed = Feed(DATED, etag=None, last_modified=None, extra_headers={"Set-Cookie": "id=1; Path=/"})
    url = server.feed("/plain.xml", feed)
    await watch(poller, "p", url)
    requests = await server.wait_requests("/plain.xml", 4)
    assert {seen.method for seen in requests} == {"GET"}
    assert {seen.query for seen in requests} == {""}
    user_agents = {seen.headers.get("User-Agent") for seen in requests}
    assert len(user_agents) == 1 and None not in user_agents and "linkcast" in next(iter(user_agents)).lower()
    for seen in requests:
        assert not {"Cookie", "Referer", "If-None-Match", "If-Modified-Since", "Cache-Control", "Pragma"} & set(
            seen.headers
        ), seen.headers
        assert "application/rss+xml" in seen.headers["Accept"] and "application/atom+xml" in seen.headers["Accept"]
        assert "gzip" in seen.headers.get("Accept-Encoding", "")


async def test_a_304_costs_nothing_and_sends_nothing(poller: Service, server: FeedServer) -> None:
    url = server.feed("/same.xml", Feed(rss(("a", "A"))))
    async with poller.connect("request_id=s&since=0") as ws:
        await watch(poller, "s", url)
        await receive_until(ws, lambda fs: bool(of_type(fs, "feed.entry")))
        count = len(server.requests_to("/same.xml"))
        await server.wait_requests("/same.xml", count + 3)  # three more polls, each a 304
        assert await frames_within(ws, 0.5) == []
    _status, record = await poller.call("GET", "/feeds/s")
    assert record["last_status"] == 304 and record["last_error"] is None
    _status, listed = await poller.call("GET", "/feeds/s/entries")
    assert [entry["entry_id"] for entry in listed["entries"]] == ["a"]


async def test_a_gzipped_feed_is_read(poller: Service, server: FeedServer) -> None:
    packed = gzip.compress(rss(("z", "Zipped")).encode())

    async def zipped(_request: web.Request) -> web.Response:
        return web.Response(body=packed, headers={"Content-Type": "application/rss+xml", "Content-Encoding": "gzip"})

    async with poller.connect("request_id=z&since=0") as ws:
        await watch(poller, "z", server.route("/zipped.xml", zipped))
        frames = await receive_until(ws, lambda fs: bool(of_type(fs, "feed.entry")))
    assert of_type(frames, "feed.entry")[0]["entry_id"] == "z"


@pytest.mark.parametrize(
    ("etag", "last_modified"),
    [
        ('W/"a, b" c=d', "last Tuesday, around noon"),  # weak, a comma, a space; a Last-Modified that is no date
        ("unquoted-123", "Sun, 06 Dec 2026 10:00:00 +0000"),  # against RFC 9110, still the server's own word
        ('"\u00e9t\u00e9"', "0"),
    ],
)
async def test_odd_validators_go_back_exactly_as_they_came(
    poller: Service, server: FeedServer, etag: str, last_modified: str
) -> None:
    url = server.feed("/odd.xml", Feed(rss(("a", "A")), etag=etag, last_modified=last_modified))
    await watch(poller, "odd", url)
    for seen in (await server.wait_requests("/odd.xml", 3))[1:]:
        assert seen.headers.get("If-None-Match") == etag
        assert seen.headers.get("If-Modified-Since") == last_modified


async def test_a_200_with_an_etag_only_drops_the_last_modified(poller: Service, server: FeedServer) -> None:
    feed = Feed(rss(("a", "A")), etag='"both"', last_modified="Sun, 06 Dec 2026 10:00:00 GMT")
    url = server.feed("/both.xml", feed)
    await watch(poller, "both", url)
    second = (await server.wait_requests("/both.xml", 2))[1]
    assert (second.headers.get("If-None-Match"), second.headers.get("If-Modified-Since")) == (
        '"both"', "Sun, 06 Dec 2026 10:00:00 GMT"
    )  # fmt: skip
    feed.update(rss(("a", "A"), ("b", "B")), etag='"etag-only"')
    feed.last_modified = None
    count = len(server.requests_to("/both.xml"))
    after = (await server.wait_requests("/both.xml", count + 2))[count + 1]
    assert after.headers.get("If-None-Match") == '"etag-only"'
    assert "If-Modified-Since" not in after.headers


async def test_a_304_to_an_unconditional_request_is_an_error_and_stores_nothing(
    poller: Service, server: FeedServer
) -> None:
    """A server that says "not modified" to a request that named no version is wrong: its validators describe no
    representation linkcast holds, and sending them back would get 304s for ever, the feed never read again."""
    async with poller.connect("request_id=n&since=0") as ws:
        feed = Feed(rss(("a", "A")), etag=None, last_modified=None)
        await watch(poller, "n", server.feed("/never.xml", feed))
        await server.wait_requests("/never.xml", 2)
        feed.queued.append((304, {"ETag": '"made-up"', "Last-Modified": "Sun, 06 Dec 2026 10:00:00 GMT"}))
        frames = await receive_until(ws, lambda fs: bool(of_type(fs, "feed.error")))
    assert of_type(frames, "feed.error")[0]["error"]["code"] == "http_status"
    count = len(server.requests_to("/never.xml"))
    for seen in (await server.wait_requests("/never.xml", count + 2))[count - 1 :]:
        assert "If-None-Match" not in seen.headers and "If-Modified-Since" not in seen.headers


async def test_a_restart_keeps_the_validators_and_the_schedule(tmp_path: Path, server: FeedServer) -> None:
    """After a restart the next request is as conditional as before it, and no sooner than it was due (max-age=8:
    8 to 8.8 s after the last), not at once."""
    feed = Feed(rss(("a", "A")), etag='W/"kept"', last_modified="Sun, 06 Dec 2026 10:00:00 GMT",
                extra_headers={"Cache-Control": "max-age=8"})  # fmt: skip
    url = server.feed("/kept.xml", feed)
    service = sqlite_poller(tmp_path, "--feed-max-interval", "10")
    await service.start()
    try:
        await watch(service, "k", url)
        last_before = (await server.wait_requests("/kept.xml", 2))[1]
        async with asyncio.timeout(10):  # that poll's 304 recorded: the restart does not cut it short
            while (await service.call("GET", "/feeds/k"))[1]["last_status"] != 304:
                await asyncio.sleep(0.05)
        service.stop(signal.SIGKILL)
        await service.start()
        first_after = (await server.wait_requests("/kept.xml", 3))[2]
    finally:
        service.stop()
    assert first_after.at - last_before.at >= 7.9
    assert first_after.headers.get("If-None-Match") == 'W/"kept"'
    assert first_after.headers.get("If-Modified-Since") == "Sun, 06 Dec 2026 10:00:00 GMT"
    assert first_after.headers.get("User-Agent") == server.requests_to("/kept.xml")[0].headers.get("User-Agent")


async def test_max_age_sets_the_interval_and_a_304_may_change_it(poller: Service, server: FeedServer) -> None:
    """max-age=2 (within the bounds 0.3-3 s): polls 2 to 2.2 s apart, not the default 0.5 s. A 304 that says max-age=0
    is stale at once: the next poll comes at the minimum, not at the interval the 200 asked for."""
    feed = Feed(rss(("a", "A")), extra_headers={"Cache-Control": "public, max-age=2"})
    await watch(poller, "age", server.feed("/age.xml", feed))
    requests = await server.wait_requests("/age.xml", 3)
    assert all(1.95 <= gap <= 2.6 for gap in gaps(requests)), gaps(requests)  # never sooner than asked
    feed.queued.extend([(304, {"Cache-Control": "max-age=0"})] * 3)
    count = len(server.requests_to("/age.xml"))
    requests = (await server.wait_requests("/age.xml", count + 3))[count:]
    assert all(gap < 1.0 for gap in gaps(requests)), gaps(requests)


async def test_retry_after_as_a_date_and_past_the_maximum_then_recovery(poller: Service, server: FeedServer) -> None:
    feed = await watched(poller, server, "ra", "/ra.xml")
    feed.queued.append((503, {"Retry-After": formatdate(time.time() + 3, usegmt=True)}))
    count = len(server.requests_to("/ra.xml"))  # the next request is answered 503
    refused, retried = (await server.wait_requests("/ra.xml", count + 2))[count:]
    assert retried.at - refused.at >= 1.5  # an HTTP date of whole seconds, 2 to 3 s away
    feed.queued.append((429, {"Retry-After": "86400"}))  # past --feed-max-interval (3 s): that is the wait
    count = len(server.requests_to("/ra.xml"))
    requests = (await server.wait_requests("/ra.xml", count + 4, timeout=40))[count:]
    waited, *after = gaps(requests)
    assert 2.8 <= waited <= 4.5, waited
    assert all(gap < 1.5 for gap in after), after  # the next success resets the interval


async def test_a_permanent_redirect_to_a_missing_feed_moves_it_and_fails_there(
    poller: Service, server: FeedServer
) -> None:
    async def missing(_request: web.Request) -> web.Response:
        return web.Response(status=404, text="no")

    server.route("/missing.xml", missing)
    async with poller.connect("request_id=mv&since=0") as ws:
        feed = await watched(poller, server, "mv", "/moving.xml")
        feed.queued.append((301, {"Location": "/missing.xml", "Retry-After": "100"}))
        frames = await receive_until(ws, lambda fs: bool(of_type(fs, "feed.error")))
    assert of_type(frames, "feed.moved")[0]["url"] == server.url("/missing.xml")
    asked = len(server.requests_to("/moving.xml"))
    await server.wait_requests("/missing.xml", 3, timeout=30)  # asked again at its new URL, backing off
    assert len(server.requests_to("/moving.xml")) == asked


@pytest.mark.parametrize(("status", "moves"), [(307, False), (308, True)])
async def test_307_keeps_the_url_and_308_moves_it(
    poller: Service, server: FeedServer, status: int, moves: bool
) -> None:
    server.feed("/target.xml", Feed(rss(("a", "A"))))
    feed = await watched(poller, server, "r", "/asked.xml")
    feed.queued.append((status, {"Location": "/target.xml"}))
    await server.wait_requests("/target.xml", 1)
    polled = "/target.xml" if moves else "/asked.xml"  # where the polls after the redirect go
    count = len(server.requests_to(polled))
    await server.wait_requests(polled, count + 2)
    _status, record = await poller.call("GET", "/feeds/r")
    assert record["url"] == server.url("/target.xml" if moves else "/asked.xml")


async def test_a_feed_found_on_its_page_is_asked_unconditionally_once(poller: Service, server: FeedServer) -> None:
    server.feed("/site/feed.xml", Feed(rss(("a", "A")), etag='"p1"'))
    page = server.page("/site/", '<html><head><link rel="alternate" type="application/rss+xml" href="feed.xml">')
    await watch(poller, "page", page)
    requests = await server.wait_requests("/site/feed.xml", 3)
    assert [seen.headers.get("If-None-Match") for seen in requests] == [None, '"p1"', '"p1"']
    assert len(server.requests_to("/site/")) == 1


async def test_one_process_never_polls_one_feed_twice_at_once(tmp_path: Path, server: FeedServer) -> None:
    in_flight, most = 0, 0

    async def slow(_request: web.Request) -> web.Response:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        try:
            await asyncio.sleep(0.8)  # longer than the interval: the next poll is due before this one ends
            return web.Response(text=rss(("a", "A")), content_type="application/rss+xml")
        finally:
            in_flight -= 1

    service = sqlite_poller(tmp_path, "--workers", "4", "--feed-min-interval", "0.1", "--feed-default-interval", "0.1")
    await service.start()
    try:
        await watch(service, "slow", server.route("/slow.xml", slow))
        await server.wait_requests("/slow.xml", 5, timeout=30)
    finally:
        service.stop()
    assert most == 1


async def test_a_poll_through_a_permanent_then_a_temporary_redirect_moves_the_feed_to_the_temporary_one(
    poller: Service, server: FeedServer
) -> None:
    server.feed("/landed.xml", Feed(rss(("a", "A"))))

    async def temporary(_request: web.Request) -> web.Response:
        return web.Response(status=307, headers={"Location": "/landed.xml"})

    server.route("/hop.xml", temporary)
    feed = await watched(poller, server, "chain", "/start.xml")
    feed.queued.append((301, {"Location": "/hop.xml"}))
    await server.wait_requests("/hop.xml", 3)  # asked again and again: the feed lives there now
    asked = len(server.requests_to("/start.xml"))
    _status, record = await poller.call("GET", "/feeds/chain")
    assert record["url"] == server.url("/hop.xml")
    await server.wait_requests("/hop.xml", len(server.requests_to("/hop.xml")) + 1)
    assert len(server.requests_to("/start.xml")) == asked


async def test_the_feeds_ttl_sets_the_interval_within_the_bounds(poller: Service, server: FeedServer) -> None:
    """<ttl>1</ttl> asks a minute: past --feed-max-interval (3 s), so polls come 2.7 to 3 s apart."""
    await watch(poller, "ttl", server.feed("/ttl.xml", Feed(rss(("a", "A"), ttl=1))))
    requests = await server.wait_requests("/ttl.xml", 3)
    assert all(2.6 <= gap <= 3.5 for gap in gaps(requests)), gaps(requests)
