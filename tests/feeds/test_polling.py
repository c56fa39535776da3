"""The best-behaved poller, request by request, against a feed server that records every request: conditional GET
with exactly the validators the server sent, permanent and temporary redirects, 410, Retry-After, back-off, no
cookies; and entries sent once each, live."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from tests.support.feed_site import Feed, FeedServer, rss
from tests.support.service import Service, receive_until

# Polls every ~0.5 s (the floor 0.3 s, the ceiling 3 s), so that a test sees several in seconds.
FAST = ["--feed-min-interval", "0.3", "--feed-max-interval", "3", "--feed-default-interval", "0.5"]


@pytest.fixture
async def poller(tmp_path: Path) -> AsyncIterator[Service]:
    service = Service("--allow-private-networks", "--rate-limit", "0", *FAST, store=f"sqlite:///{tmp_path}/l.db",
                      log_path=tmp_path / "serve.log")  # fmt: skip
    await service.start()
    yield service
    service.stop()


async def watch(service: Service, feed_id: str, url: str, **options: Any) -> dict[str, Any]:
    status, body = await service.call("PUT", f"/feeds/{feed_id}", json={"url": url, **options})
    assert status == 201, body
    return body


def of_type(frames: list[dict[str, Any]], kind: str) -> list[dict[str, Any]]:
    return [frame for frame in frames if frame.get("type") == kind]


async def test_conditional_get_sends_back_exactly_what_the_server_sent(poller: Service, server: FeedServer) -> None:
    feed = Feed(rss(("a", "First")), etag='W/"x-1"', last_modified="Sun, 06 Dec 2026 10:00:00 GMT")
    url = server.feed("/feed.xml", feed)
    async with poller.connect("request_id=f&since=0") as ws:
        await watch(poller, "f", url)
        frames = await receive_until(ws, lambda fs: len(of_type(fs, "feed.entry")) == 1)
        # The first request finds the feed (PUT), and its answer is the first poll's: every request after it sends
        # the validators back (the server gets one unconditional GET for the feed added, not two).
        discovery, second = (await server.wait_requests("/feed.xml", 2))[:2]
        assert "If-None-Match" not in discovery.headers and "If-Modified-Since" not in discovery.headers
        assert second.headers["If-None-Match"] == 'W/"x-1"'
        assert second.headers["If-Modified-Since"] == "Sun, 06 Dec 2026 10:00:00 GMT"
        feed.update(rss(("a", "First"), ("b", "Second")), etag='"x-2"')
        frames += await receive_until(ws, lambda fs: len(of_type(fs, "feed.entry")) == 1)
    [new] = of_type(frames, "feed.entry")[1:]
    assert new["entry_id"] == "b" and "backlog" not in new
    assert of_type(frames, "feed.entry")[0]["backlog"] is True
    later = (await server.wait_requests("/feed.xml", len(server.requests_to("/feed.xml")) + 1))[-1]
    assert later.headers["If-None-Match"] == '"x-2"'  # replaced by the 200's


async def test_each_validator_is_kept_or_dropped_on_its_own_and_never_made_up(
    poller: Service, server: FeedServer
) -> None:
    feed = Feed(rss(("a", "A")), etag='"only-etag"', last_modified=None)
    url = server.feed("/etag-only.xml", feed)
    await watch(poller, "e", url)
    requests = await server.wait_requests("/etag-only.xml", 3)  # discovery (the first poll's answer), two polls
    assert requests[2].headers.get("If-None-Match") == '"only-etag"'
    assert "If-Modified-Since" not in requests[2].headers
    feed.update(rss(("a", "A"), ("b", "B")))
    feed.etag, feed.last_modified = None, "Mon, 07 Dec 2026 08:00:00 GMT"
    count = len(server.requests_to("/etag-only.xml"))
    after = (await server.wait_requests("/etag-only.xml", count + 2))[count + 1]
    assert "If-None-Match" not in after.headers  # the 200 sent no ETag: the old one is dropped
    assert after.headers.get("If-Modified-Since") == "Mon, 07 Dec 2026 08:00:00 GMT"
    bare = server.feed("/bare.xml", Feed(rss(("a", "A")), etag=None, last_modified=None))
    await watch(poller, "bare", bare)
    for seen in await server.wait_requests("/bare.xml", 3):
        assert "If-None-Match" not in seen.headers and "If-Modified-Since" not in seen.headers


async def test_a_304_updates_the_validators_of_the_version_it_names_and_of_no_other(
    poller: Service, server: FeedServer
) -> None:
    """RFC 9111 4.3.4: a 304 with the stored ETag updates the stored answer (its new Last-Modified replaces the
    old); one with another ETag names a version linkcast never read, and updates nothing. Taken as the feed's, that
    ETag went back and the unchanged feed came again in full, a 200."""
    feed = Feed(rss(("a", "A")), etag='"old"', last_modified="Sun, 06 Dec 2026 10:00:00 GMT")
    url = server.feed("/rotating.xml", feed)
    await watch(poller, "r", url)
    await server.wait_requests("/rotating.xml", 2)  # discovery (the first poll's answer: validators stored), a poll
    feed.last_modified = "Mon, 07 Dec 2026 10:00:00 GMT"  # the same version, a new Last-Modified: its 304s say so
    feed.queued.append((304, {"ETag": '"old"', "Last-Modified": feed.last_modified}))  # to a request of the old one
    count = len(server.requests_to("/rotating.xml"))
    after = (await server.wait_requests("/rotating.xml", count + 2))[count + 1]
    assert after.headers.get("If-None-Match") == '"old"'
    assert after.headers.get("If-Modified-Since") == "Mon, 07 Dec 2026 10:00:00 GMT"
    feed.queued.append((304, {"ETag": '"rotated"', "Last-Modified": "Tue, 08 Dec 2026 10:00:00 GMT"}))
    count = len(server.requests_to("/rotating.xml"))
    later = (await server.wait_requests("/rotating.xml", count + 2))[count:]
    assert [seen.headers.get("If-None-Match") for seen in later] == ['"old"', '"old"']
    assert later[1].headers.get("If-Modified-Since") == "Mon, 07 Dec 2026 10:00:00 GMT"


async def test_no_cookies_no_cache_busting_one_user_agent(poller: Service, server: FeedServer) -> None:
    feed = Feed(rss(("a", "A")), extra_headers={"Set-Cookie": "session=abc; Path=/"})
    url = server.feed("/cookie.xml", feed)
    await watch(poller, "c", url)
    requests = await server.wait_requests("/cookie.xml", 3)
    assert all("Cookie" not in seen.headers for seen in requests)
    assert {seen.headers["User-Agent"] for seen in requests} == {requests[0].headers["User-Agent"]}
    assert all(seen.path == "/cookie.xml" for seen in requests)


async def watched(service: Service, server: FeedServer, feed_id: str, path: str) -> Feed:
    """A feed watched and polled once (its discovery and first poll done): what it answers next is the test's."""
    feed = Feed(rss(("a", "A")))
    await watch(service, feed_id, server.feed(path, feed))
    await server.wait_requests(path, 2)
    return feed


async def test_a_permanent_redirect_moves_the_feed_and_a_temporary_one_does_not(
    poller: Service, server: FeedServer
) -> None:
    server.feed("/new.xml", Feed(rss(("a", "A"))))
    async with poller.connect("request_id=m&since=0") as ws:
        feed = await watched(poller, server, "m", "/old.xml")
        feed.queued.append((301, {"Location": "/new.xml"}))
        frames = await receive_until(ws, lambda fs: bool(of_type(fs, "feed.moved")))
    moved = of_type(frames, "feed.moved")[0]
    assert (moved["previous_url"], moved["url"]) == (server.url("/old.xml"), server.url("/new.xml"))
    asked_old = len(server.requests_to("/old.xml"))
    await server.wait_requests("/new.xml", 3)
    assert len(server.requests_to("/old.xml")) == asked_old  # never asked again
    _status, record = await poller.call("GET", "/feeds/m")
    assert record["url"] == server.url("/new.xml")

    server.feed("/elsewhere.xml", Feed(rss(("a", "A"))))
    temporary = await watched(poller, server, "t", "/temp.xml")
    temporary.queued.append((302, {"Location": "/elsewhere.xml"}))
    await server.wait_requests("/elsewhere.xml", 1)
    count = len(server.requests_to("/temp.xml"))
    await server.wait_requests("/temp.xml", count + 1)  # asked again at its own URL
    _status, record = await poller.call("GET", "/feeds/t")
    assert record["url"] == server.url("/temp.xml")


def redirect(server: FeedServer, path: str, status: int, target: str) -> str:
    async def answer(_request: web.Request) -> web.Response:
        return web.Response(status=status, headers={"Location": target})

    return server.route(path, answer)


async def test_a_feed_found_through_redirects_is_watched_where_only_the_permanent_ones_lead(
    poller: Service, server: FeedServer
) -> None:
    """308, 301, then 302: the feed lives at the 302's URL (RFC 9110: a 302 or 307 says to keep asking the URL it
    came from), not at the final one, when it is added and at every poll."""
    server.feed("/final.xml", Feed(rss(("a", "A"))))
    temporary = redirect(server, "/temporary.xml", 302, "/final.xml")
    redirect(server, "/permanent.xml", 301, "/temporary.xml")
    first = redirect(server, "/first.xml", 308, "/permanent.xml")
    assert (await watch(poller, "chain", first))["url"] == temporary
    assert (await watch(poller, "temp", temporary))["url"] == temporary
    before = len(server.requests_to("/temporary.xml"))
    await server.wait_requests("/temporary.xml", before + 4)  # both polled through the 302, again and again
    for feed_id in ("chain", "temp"):
        _status, record = await poller.call("GET", f"/feeds/{feed_id}")
        assert record["url"] == temporary and record["last_status"] in (200, 304)
    assert len(server.requests_to("/first.xml")) == 1  # asked once, when the feed was added


async def test_410_ends_the_feed(poller: Service, server: FeedServer) -> None:
    async with poller.connect("request_id=g&since=0") as ws:
        feed = await watched(poller, server, "g", "/gone.xml")
        feed.queued.append((410, {}))
        await receive_until(ws, lambda fs: bool(of_type(fs, "feed.gone")))
    _status, record = await poller.call("GET", "/feeds/g")
    assert record["state"] == "gone" and record["last_status"] == 410
    count = len(server.requests_to("/gone.xml"))
    await asyncio.sleep(2.0)  # an absence to see: several poll intervals pass with no request
    assert len(server.requests_to("/gone.xml")) == count


async def test_429_waits_for_retry_after_and_failures_back_off(poller: Service, server: FeedServer) -> None:
    async with poller.connect("request_id=r&since=0") as ws:
        feed = await watched(poller, server, "r", "/busy.xml")
        feed.queued.append((429, {"Retry-After": "2"}))
        frames = await receive_until(ws, lambda fs: bool(of_type(fs, "feed.error")), timeout=30)
    assert of_type(frames, "feed.error")[0]["error"]["code"] == "http_status"
    count = len(server.requests_to("/busy.xml"))
    requests = await server.wait_requests("/busy.xml", count + 1)
    assert requests[count].at - requests[count - 1].at >= 1.9  # not before Retry-After

    failing = await watched(poller, server, "b", "/broken.xml")
    failing.queued.extend([(500, {})] * 4)
    count = len(server.requests_to("/broken.xml"))
    requests = (await server.wait_requests("/broken.xml", count + 4, timeout=60))[count - 1 :]
    gaps = [later.at - earlier.at for earlier, later in itertools.pairwise(requests)]
    assert gaps[2] > gaps[0] * 1.5, gaps  # each failure waits longer (0.5, 1, 2, then the 3 s ceiling)


async def test_a_retry_after_of_junk_is_one_error_event_and_a_back_off(poller: Service, server: FeedServer) -> None:
    """ "²" passes ``str.isdigit`` and fails ``float``: it once raised out of the poll, which was then taken again and
    again with no event, instead of failing once like any 503 with no usable Retry-After."""
    async with poller.connect("request_id=junk&since=0") as ws:
        feed = await watched(poller, server, "junk", "/junk.xml")
        feed.queued.append((503, {"Retry-After": "²"}))
        frames = await receive_until(ws, lambda fs: bool(of_type(fs, "feed.error")))
    [error] = of_type(frames, "feed.error")
    assert error["error"]["code"] == "http_status"
    count = len(server.requests_to("/junk.xml"))
    await server.wait_requests("/junk.xml", count + 1)  # and polled again


@pytest.mark.parametrize("etag", [b'"\xe9\xff"', b'"a\x01b"'])
async def test_a_validator_that_is_no_text_is_not_kept_and_the_feed_lives_on(poller: Service, etag: bytes) -> None:
    """An ETag of bytes that are not UTF-8 could not be stored, one with a control character could not be sent back:
    either way each poll of the feed failed without an event until it was given up for good."""
    body = rss(("a", "A")).encode()
    heads: list[bytes] = []
    polled = asyncio.Condition()

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        heads.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\nETag: " + etag
                     + b"\r\nContent-Length: %d\r\n\r\n" % len(body) + body)  # fmt: skip
        await writer.drain()
        writer.close()
        async with polled:
            polled.notify_all()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    try:
        async with poller.connect("request_id=bad-etag&since=0") as ws:
            await watch(poller, "bad-etag", f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/")
            await receive_until(ws, lambda fs: bool(of_type(fs, "feed.entry")))
        async with asyncio.timeout(20), polled:
            await polled.wait_for(lambda: len(heads) >= 4)  # found, then polled again and again
        assert not any(b"if-none-match" in head.lower() for head in heads)
    finally:
        server.close()


async def test_a_site_url_finds_its_feed_and_the_answer_names_it(poller: Service, server: FeedServer) -> None:
    feed_url = server.feed("/blog/feed.atom", Feed(rss(("a", "A"))))
    server.page("/blog/", '<html><head><link rel="alternate" type="application/rss+xml" href="feed.atom">'
                          "</head><body>blog</body></html>")  # fmt: skip
    body = await watch(poller, "site", server.url("/blog/"))
    assert body["url"] == feed_url
    wordpress = (
        '<html><head><link rel="alternate" type="application/json" href="/wp-json/wp/v2/pages/2">'
        '<link rel="alternate" type="application/rss+xml" href="/blog/feed.atom"></head><body>page</body></html>'
    )
    body = await watch(poller, "wordpress", server.page("/page/", wordpress))
    assert body["url"] == feed_url, "an API's JSON view of the page is no feed to prefer"
    status, answer = await poller.call("PUT", "/feeds/none", json={"url": server.page("/plain", "<p>no feed</p>")})
    assert (status, answer["error"]["code"]) == (400, "no_feed_found")
    assert '"watch": "links"' in answer["error"]["message"], "what to ask for instead (the websub.rocks pages)"
