"""More of the feed-reader scorecard, request by request, on corners test_scorecard.py and test_polling.py leave:
HTTP-dates in every form RFC 9110 lets a server send, Retry-After against the back-off and the server's clock."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.feeds.test_polling import watch, watched
from tests.feeds.test_schedule import http_date
from tests.feeds.test_scorecard import gaps, sqlite_poller
from tests.support.feed_site import Feed, FeedServer, rss
from tests.support.service import Service


async def record_when(service: Service, feed_id: str, done: Any, timeout: float = 15.0) -> dict[str, Any]:
    """The feed's record, once ``done(record)`` holds."""
    async with asyncio.timeout(timeout):
        while True:
            _status, record = await service.call("GET", f"/feeds/{feed_id}")
            if done(record):
                return record
            await asyncio.sleep(0.05)


def asctime(at: float) -> str:
    """An HTTP-date in the obsolete asctime form (RFC 9110 5.6.7), which names no zone: it is in UTC all the same."""
    return time.strftime("%a %b %e %H:%M:%S %Y", time.gmtime(at))


@pytest.fixture
async def poller(tmp_path: Path) -> AsyncIterator[Service]:
    service = sqlite_poller(tmp_path)
    await service.start()
    yield service
    service.stop()


@pytest.fixture
async def far_east(tmp_path: Path) -> AsyncIterator[Service]:
    """A poller whose host's clock is 14 hours ahead of UTC (Kiribati): an HTTP-date read as local time is wrong."""
    service = sqlite_poller(tmp_path)
    service.env["TZ"] = "UTC-14"
    await service.start()
    yield service
    service.stop()


async def test_an_asctime_date_is_utc_whatever_the_hosts_zone(far_east: Service, server: FeedServer) -> None:
    """Expires and Retry-After a minute ahead, in the asctime form: past --feed-max-interval (3 s), so the next poll
    is some 3 s later; read as the host's local time they were 14 hours past, and the next poll came at the minimum."""
    feed = Feed(rss(("a", "A")), extra_headers={"Expires": asctime(time.time() + 60)})
    await watch(far_east, "exp", server.feed("/expires.xml", feed))
    record = await record_when(far_east, "exp", lambda record: record["last_status"] == 200)
    assert record["next_poll"] - record["last_poll"] >= 2.5, record

    busy = await watched(far_east, server, "busy", "/busy.xml")
    busy.queued.append((503, {"Retry-After": asctime(time.time() + 60)}))
    record = await record_when(far_east, "busy", lambda record: record["last_status"] == 503)
    assert record["next_poll"] - record["last_poll"] >= 2.5, record


async def test_a_short_retry_after_never_makes_a_rate_limited_feed_polled_sooner(
    poller: Service, server: FeedServer
) -> None:
    """max-age=1 puts the polls 1 s apart. A 429 with Retry-After: 0 (or any wait shorter than that) once set the next
    poll at the minimum (0.3 s): told it asked too often, the poller asked more often, and kept at it while the 429s
    came. Retry-After is the least wait; a 429 or 503 backs off like any other failure, and longer if it asks so."""
    feed = Feed(rss(("a", "A")), extra_headers={"Cache-Control": "max-age=1"})
    await watch(poller, "limited", server.feed("/limited.xml", feed))
    feed.queued.append((429, {"Retry-After": "0"}))
    record = await record_when(poller, "limited", lambda record: record["last_status"] == 429)
    assert record["next_poll"] - record["last_poll"] >= 0.99, record  # the interval at least: 1 s


async def test_a_retry_after_date_is_read_against_the_servers_own_clock(poller: Service, server: FeedServer) -> None:
    """A server whose clock is an hour slow says its Date and a Retry-After date 2 s past it: it asks for 2 s. Read
    against the poller's clock that date was an hour past, and the feed came back at the back-off (0.5 s), sooner than
    the server asked, as an Expires is read against the Date (RFC 9111 4.2.1)."""
    busy = await watched(poller, server, "skewed", "/skewed.xml")
    server_now = time.time() - 3600
    busy.queued.append((503, {"Date": http_date(server_now), "Retry-After": http_date(server_now + 3)}))
    record = await record_when(poller, "skewed", lambda record: record["last_status"] == 503)
    assert record["next_poll"] - record["last_poll"] >= 1.5, record


async def test_a_validator_absurdly_long_is_never_sent_back(poller: Service, server: FeedServer) -> None:
    """An ETag of 4,000 characters went back verbatim at every poll: a request header many servers refuse (past 8 KiB,
    aiohttp's own server among them), and the feed then failed at every poll. It is taken as not sent, by a 200 (the
    Last-Modified it came with still goes back) and by a 304 (the ETag stored before it is kept)."""
    absurd = '"' + "x" * 4000 + '"'
    feed = Feed(rss(("a", "A")), etag=absurd, last_modified="Sun, 06 Dec 2026 10:00:00 GMT")
    await watch(poller, "long", server.feed("/long.xml", feed))
    for seen in (await server.wait_requests("/long.xml", 3))[1:]:  # the second answered 304, with the long ETag
        assert "If-None-Match" not in seen.headers
        assert seen.headers.get("If-Modified-Since") == "Sun, 06 Dec 2026 10:00:00 GMT"
    feed.update(rss(("a", "A"), ("b", "B")), etag='"short"')
    await record_when(poller, "long", lambda record: record["entry_count"] == 2)
    feed.queued.append((304, {"ETag": absurd}))
    count = len(server.requests_to("/long.xml"))
    after = (await server.wait_requests("/long.xml", count + 2))[count + 1]
    assert after.headers.get("If-None-Match") == '"short"'


async def test_a_put_that_conflicts_is_a_409_and_asks_its_url_nothing(poller: Service, server: FeedServer) -> None:
    """The same id with another URL (or options) is a 409 whatever that URL serves: it was fetched first, to find its
    feed, and then refused, an unconditional GET its server got for nothing at every such PUT."""
    await watch(poller, "taken", server.feed("/one.xml", Feed(rss(("a", "A")))))
    other = server.feed("/other.xml", Feed(rss(("b", "B"))))
    for options in ({}, {"watch": "links"}):
        status, body = await poller.call("PUT", "/feeds/taken", json={"url": other, **options})
        assert (status, body["error"]["code"]) == (409, "conflict"), body
    assert server.requests_to("/other.xml") == []


async def test_the_next_poll_counts_from_when_the_request_went_out_not_from_when_the_poll_began(
    tmp_path: Path, server: FeedServer
) -> None:
    """max-age=2: the next request 2 s after this one, at least. A poll that waited for its host's one slot (held 2.5 s
    by another fetch to the host, a PUT finding a feed) counted the 2 s from when it began to wait, and its next
    request came some 1 s after the late one, where the server had asked for 2."""
    service = sqlite_poller(tmp_path, "--per-host-concurrency", "1")
    await service.start()
    try:
        feed = Feed(rss(("a", "A")), extra_headers={"Cache-Control": "max-age=2"})
        await watch(service, "paced", server.feed("/paced.xml", feed))

        async def held(_request: web.Request) -> web.Response:
            await asyncio.sleep(2.5)  # the host's one slot held past the feed's next poll
            return web.Response(text="<html><head></head><body>no feed</body></html>", content_type="text/html")

        holding = asyncio.create_task(service.call("PUT", "/feeds/held", json={"url": server.route("/held", held)}))
        requests = await server.wait_requests("/paced.xml", 4)
        await holding
    finally:
        service.stop()
    assert len(server.requests_to("/held")) == 1
    assert all(gap >= 1.95 for gap in gaps(requests)), gaps(requests)


async def test_a_429_with_no_retry_after_slows_the_polls_at_once(poller: Service, server: FeedServer) -> None:
    """max-age=1 puts the polls 1 s apart. A 429 says that pace is too fast (RFC 6585 4), Retry-After or not; with
    none, the first one was a failure like any other, and the next poll came at the same pace, 1 s later: the
    back-off doubles it from the first 429 (2 s, then 3 s, the ceiling)."""
    feed = Feed(rss(("a", "A")), extra_headers={"Cache-Control": "max-age=1"})
    await watch(poller, "slower", server.feed("/slower.xml", feed))
    feed.queued.append((429, {}))
    record = await record_when(poller, "slower", lambda record: record["last_status"] == 429)
    assert record["next_poll"] - record["last_poll"] >= 1.99, record


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ("<!DOCTYPE html><html><body>Down for maintenance</body></html>", "not_a_feed"),
        ('<?xml version="1.0"?><rss version="2.0"><channel><title>cut', "invalid_feed"),
    ],
)
async def test_a_200_that_is_no_feed_replaces_the_validators_and_its_304s_keep_the_error(
    poller: Service, server: FeedServer, body: str, code: str
) -> None:
    """Validators are replaced on every 200: the If-None-Match of the version before, sent after a 200 that could not
    be read, had the server send the same unreadable page again at every poll. Its 304 is no recovery: the feed stays
    in error, saying why, until a version that reads comes."""
    feed = Feed(rss(("a", "A")), etag='"v1"', last_modified=None)
    await watch(poller, "broken", server.feed("/broken.xml", feed))
    await server.wait_requests("/broken.xml", 2)
    feed.update(body, etag='"e2"')
    broken = await record_when(poller, "broken", lambda record: record["state"] == "error")
    assert broken["last_error"]["code"] == code, broken
    count = len(server.requests_to("/broken.xml"))
    after = (await server.wait_requests("/broken.xml", count + 1))[count]
    assert after.headers.get("If-None-Match") == '"e2"'
    still = await record_when(poller, "broken", lambda record: record["last_status"] == 304)
    assert still["state"] == "error" and still["last_error"]["code"] == code, still
    feed.update(rss(("a", "A"), ("b", "B")), etag='"v3"')
    await record_when(poller, "broken", lambda record: record["state"] == "active" and record["entry_count"] == 2)
