"""Feeds through the whole service: entries sent once each, live; changed ones again; followed entries' pages; a page
watched as a feed; OPML in and out; hostile feeds ending in one error event each and polled again; a restart that
neither repeats nor misses an entry; several worker processes never polling one feed at once."""

from __future__ import annotations

import asyncio
import itertools
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from aiohttp import web

from linkcast.core.feeds import FeedRecord
from linkcast.settings import Settings
from linkcast.store import open_store
from tests.hostile.test_hostile import PeakRSS
from tests.redis.deployment import WorkerProcess
from tests.support.feed_site import Feed, FeedServer, rss
from tests.support.service import Service, receive_until, slowest_health_check

FAST = ["--feed-min-interval", "0.3", "--feed-max-interval", "3", "--feed-default-interval", "0.5"]


def sqlite_service(tmp_path: Path, *flags: str) -> Service:
    return Service("--allow-private-networks", "--rate-limit", "0", *FAST, *flags,
                   store=f"sqlite:///{tmp_path}/l.db", log_path=tmp_path / "serve.log")  # fmt: skip


@pytest.fixture
async def poller(tmp_path: Path) -> AsyncIterator[Service]:
    service = sqlite_service(tmp_path)
    await service.start()
    yield service
    service.stop()


def entries(frames: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [frame for frame in frames if frame.get("type") == "feed.entry"]


async def watch(service: Service, feed_id: str, url: str, **options: Any) -> dict[str, Any]:
    status, body = await service.call("PUT", f"/feeds/{feed_id}", json={"url": url, **options})
    assert status == 201, body
    return body


async def test_entries_arrive_once_each_and_changed_ones_again(poller: Service, server: FeedServer) -> None:
    feed = Feed(rss(("a", "Alpha"), ("b", "Beta")))
    url = server.feed("/f.xml", feed)
    async with poller.connect("request_id=f&since=0") as ws:
        await watch(poller, "f", url)
        frames = await receive_until(ws, lambda fs: len(entries(fs)) == 2)
        feed.update(rss(("c", "Gamma"), ("b", "Beta"), ("a", "Alpha")))  # a new one first, the others reordered
        frames += await receive_until(ws, lambda fs: len(entries(fs)) == 1)
        feed.update(rss(("c", "Gamma"), ("b", "Beta, changed"), ("a", "Alpha")).replace("About Beta", "About B2"))
        frames += await receive_until(ws, lambda fs: len(entries(fs)) == 1)
    sent = entries(frames)
    assert [(e["entry_id"], e.get("backlog"), e.get("changed")) for e in sent] == [
        ("a", True, None), ("b", True, None), ("c", None, None), ("b", None, True),
    ]  # fmt: skip
    first = sent[0]
    assert first["title"] == "Alpha" and first["link"] == server.url("/entry/a")
    assert first["summary"] == "About Alpha: more" and first["links"] == [server.url("/more/a")]
    _status, listed = await poller.call("GET", "/feeds/f/entries?limit=2")
    assert [e["entry_id"] for e in listed["entries"]] == ["a", "b"] and listed["next"] is not None
    _status, record = await poller.call("GET", "/feeds/f")
    assert record["entry_count"] == 3 and record["title"] == "News" and record["state"] == "active"


async def test_followed_entries_are_fetched_and_their_results_name_the_feed(
    poller: Service, server: FeedServer
) -> None:
    server.page("/entry/a", '<a href="/inside-a">inside</a>')
    url = server.feed("/follow.xml", Feed(rss(("a", "Alpha"))))
    async with poller.connect("since=0") as ws:
        await watch(poller, "fol", url, follow=True)
        frames = await receive_until(ws, lambda fs: any(f.get("type") == "result" for f in fs))
    result = next(frame for frame in frames if frame.get("type") == "result")
    assert (result["feed_id"], result["entry_id"]) == ("fol", "a")
    assert result["url"] == server.url("/entry/a") and result["links"] == [server.url("/inside-a")]


async def test_a_page_watched_as_a_feed_sends_each_new_link_with_its_text(poller: Service, server: FeedServer) -> None:
    page = {"body": '<a href="/post/1">First post</a>'}

    async def news(_request: web.Request) -> web.StreamResponse:
        return web.Response(text=page["body"], content_type="text/html")

    url = server.route("/news", news)
    async with poller.connect("request_id=page&since=0") as ws:
        body = await watch(poller, "page", url, watch="links")
        assert body["url"] == url
        frames = await receive_until(ws, lambda fs: len(entries(fs)) == 1)
        page["body"] = '<a href="/post/2">Second post</a> <a href="/post/1">First post</a>'
        frames += await receive_until(ws, lambda fs: len(entries(fs)) == 1)
    assert [(e["link"], e["title"], e.get("backlog")) for e in entries(frames)] == [
        (server.url("/post/1"), "First post", True), (server.url("/post/2"), "Second post", None),
    ]  # fmt: skip


async def test_a_watched_page_s_links_longer_than_a_url_the_api_takes_are_no_entries_nor_followed(
    poller: Service, server: FeedServer
) -> None:
    # A page may hold links of up to 2 MiB; each was an entry and, followed, a request whose URL was that long (1,000
    # a poll): a small gzipped page made linkcast send megabytes to whatever host its links named.
    server.page("/post/short", "<p>a post</p>")
    long_link = "/post/" + "a" * 20_000
    url = server.page("/long-links", f'<a href="{long_link}">long</a> <a href="/post/short">short</a>')
    async with poller.connect("since=0") as ws:
        await watch(poller, "long", url, watch="links", follow=True)
        await receive_until(ws, lambda fs: any(f.get("type") == "result" for f in fs))
    _status, listed = await poller.call("GET", "/feeds/long/entries")
    assert [entry["link"] for entry in listed["entries"]] == [server.url("/post/short")]
    _status, requests = await poller.call("GET", "/urls")
    assert [request["url"] for request in requests["requests"]] == [server.url("/post/short")]


async def test_past_max_feeds_a_new_feed_is_a_409_and_fetches_nothing(tmp_path: Path, server: FeedServer) -> None:
    """A feed is polled for as long as it is kept: past --max-feeds, a new one (by PUT, or an OPML outline) is refused
    before anything is fetched for it; a repeat of a kept one is still answered, and a removal makes room."""
    service = sqlite_service(tmp_path, "--max-feeds", "2")
    await service.start()
    try:
        for name in ("a", "b"):
            await watch(service, name, server.feed(f"/{name}.xml", Feed(rss((name, name.upper())))))
        third = server.feed("/c.xml", Feed(rss(("c", "C"))))
        status, body = await service.call("PUT", "/feeds/c", json={"url": third})
        assert (status, body["error"]["code"]) == (409, "too_many_feeds"), body
        assert (await service.call("PUT", "/feeds/a", json={"url": server.url("/a.xml")}))[0] == 200
        opml = f'<opml version="2.0"><body><outline text="C" xmlUrl="{third}"/></body></opml>'
        status, answer = await service.call("POST", "/feeds/import", data=opml.encode())
        assert status == 200 and [r["error"]["code"] for r in answer["results"]] == ["too_many_feeds"], answer
        assert server.requests_to("/c.xml") == []
        assert (await service.call("DELETE", "/feeds/b"))[0] == 200
        await watch(service, "c", third)
    finally:
        service.stop()


async def test_opml_in_and_out(poller: Service, server: FeedServer) -> None:
    one, two = server.feed("/one.xml", Feed(rss(("a", "A")))), server.feed("/two.xml", Feed(rss(("b", "B"))))
    opml = (
        '<?xml version="1.0"?><opml version="2.0"><head><title>mine</title></head><body>'
        f'<outline text="One" xmlUrl="{one}"/><outline text="Group"><outline text="Two" xmlUrl="{two}"/></outline>'
        '<outline text="Bad" xmlUrl="ftp://x.example/"/></body></opml>'
    )
    status, answer = await poller.call("POST", "/feeds/import", data=opml.encode(),
                                       headers={"Content-Type": "text/x-opml"})  # fmt: skip
    assert status == 200, answer
    assert [result["status"] for result in answer["results"]] == ["accepted", "accepted"]
    assert [skipped["url"] for skipped in answer["skipped"]] == ["ftp://x.example/"]
    async with aiohttp.ClientSession() as session, session.get(poller.base_url + "/feeds/export.opml") as response:
        exported = await response.text()
        assert response.status == 200 and response.content_type == "text/x-opml"
    assert one in exported and two in exported


async def test_importing_opml_leaves_the_service_answering(poller: Service) -> None:
    """An OPML list is read by expat with a Python call per element: a body of 1 MB (--max-request-bytes) is about
    0.1 s of it, which ran on the event loop, so a few clients posting lists at once held every other request."""
    opml = b"<opml><body>" + b'<x a="1" b="2"/>' * 60_000 + b"</body></opml>"
    async with aiohttp.ClientSession() as session:

        async def post() -> int:
            async with session.post(f"{poller.base_url}/feeds/import", data=opml,
                                    timeout=aiohttp.ClientTimeout(total=120)) as answer:  # fmt: skip
                return answer.status

        posts = asyncio.gather(*(post() for _ in range(30)))
        slowest = await slowest_health_check(poller, posts, session)
        assert await posts == [200] * 30
    assert slowest < 1.5, f"/healthz waited {slowest:.1f} s while the lists were read"


HOSTILE: dict[str, tuple[str, str]] = {
    "billion-laughs": (
        '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">]><rss version="2.0"><channel><title>&c;</title></channel></rss>',
        "unsafe_xml",
    ),
    "external-entity": (
        '<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
        '<rss version="2.0"><channel><title>&x;</title></channel></rss>',
        "unsafe_xml",
    ),
    "html": ("<!doctype html><html><body><p>not a feed</p></body></html>", "not_a_feed"),
    "broken": ('<?xml version="1.0"?><rss version="2.0"><channel><title>unclosed', "invalid_feed"),
}


@pytest.mark.parametrize("name", list(HOSTILE))
async def test_a_hostile_feed_ends_each_poll_in_one_error_event_and_is_polled_again(
    poller: Service, server: FeedServer, name: str
) -> None:
    body, code = HOSTILE[name]
    good = server.feed(f"/{name}.xml", Feed(rss(("a", "A"))))
    async with poller.connect(f"request_id={name}&since=0") as ws:
        await watch(poller, name, good)
        await receive_until(ws, lambda fs: len(entries(fs)) == 1)
        hostile = server.feeds[f"/{name}.xml"]
        hostile.update(body)
        # Sent with no validators, it is read at each poll (one sent with them is answered 304 until it changes:
        # test_scorecard_corners.py).
        hostile.etag = hostile.last_modified = None
        frames = await receive_until(ws, lambda fs: len([f for f in fs if f["type"] == "feed.error"]) == 2, 30)
    errors = [frame for frame in frames if frame["type"] == "feed.error"]
    assert {error["error"]["code"] for error in errors} == {code}
    assert not entries(frames)
    _status, record = await poller.call("GET", f"/feeds/{name}")
    assert record["state"] == "error" and record["last_error"]["code"] == code


async def test_a_link_header_title_in_an_undecodable_charset_neither_fails_discovery_nor_a_poll(
    poller: Service, server: FeedServer
) -> None:
    """``title*=idna''...`` made Python's codec raise out of the Link header's reading: PUT /feeds of a page naming its
    feed so was a 500, and every poll of a feed sending it crashed its worker until the feed was given up on."""
    odd_title = "title*=idna''%41"
    feed_url = server.feed(
        "/odd.xml", Feed(rss(("a", "A")), extra_headers={"Link": f"<{server.url('/hub')}>; rel=hub; {odd_title}"})
    )
    page_link = f'<{feed_url}>; rel=alternate; type="application/rss+xml"; {odd_title}'
    page = server.feed(
        "/page", Feed("<html><head></head></html>", content_type="text/html", extra_headers={"Link": page_link})
    )
    async with poller.connect("request_id=odd&since=0") as ws:
        body = await watch(poller, "odd", page)
        assert body["url"] == feed_url
        frames = await receive_until(ws, lambda fs: len(entries(fs)) == 1, 30)
    assert [entry["title"] for entry in entries(frames)] == ["A"]
    _status, record = await poller.call("GET", "/feeds/odd")
    assert record["state"] == "active" and record["last_error"] is None, record


async def test_a_feed_with_many_entries_sends_at_most_the_bound_per_poll(tmp_path: Path, server: FeedServer) -> None:
    service = sqlite_service(tmp_path, "--max-entries-per-poll", "50")
    await service.start()
    try:
        url = server.feed("/huge.xml", Feed(rss(*((f"e{n}", f"Entry {n}") for n in range(5000)))))
        async with service.connect("request_id=huge&since=0") as ws:
            await watch(service, "huge", url)
            frames = await receive_until(ws, lambda fs: len(entries(fs)) >= 50)
            await asyncio.sleep(1.0)  # an absence to see: the next polls read the same first 50, sending nothing
        assert len(entries(frames)) == 50
    finally:
        service.stop()


async def test_a_restart_neither_repeats_an_entry_nor_misses_one_that_appeared_meanwhile(
    tmp_path: Path, server: FeedServer
) -> None:
    feed = Feed(rss(("a", "A")))
    url = server.feed("/durable.xml", feed)
    service = sqlite_service(tmp_path)
    await service.start()
    try:
        async with service.connect("request_id=d&since=0") as ws:
            await watch(service, "d", url)
            await receive_until(ws, lambda fs: len(entries(fs)) == 1)
        service.stop(signal.SIGKILL)
        feed.update(rss(("b", "B"), ("a", "A")))  # published while linkcast was down
        await service.start()
        async with service.connect("request_id=d&since=0") as ws:
            frames = await receive_until(ws, lambda fs: len(entries(fs)) == 2, 30)
        await server.wait_requests("/durable.xml", len(server.requests_to("/durable.xml")) + 2)
        _status, listed = await service.call("GET", "/feeds/d/entries")
        assert [e["entry_id"] for e in entries(frames)] == ["a", "b"]
        assert [e["entry_id"] for e in listed["entries"]] == ["a", "b"]  # later polls added nothing
    finally:
        service.stop()


async def test_two_worker_processes_never_poll_one_feed_at_once(
    tmp_path: Path, server: FeedServer, redis_url: str, redis_prefix: str
) -> None:
    in_flight, most = 0, 0

    async def slow_feed(_request: web.Request) -> web.StreamResponse:
        nonlocal in_flight, most
        in_flight += 1
        most = max(most, in_flight)
        try:
            await asyncio.sleep(0.4)
            return web.Response(text=rss(("a", "A")), content_type="application/rss+xml")
        finally:
            in_flight -= 1

    url = server.route("/slow.xml", slow_feed)
    flags = ["--redis-prefix", redis_prefix, "--allow-private-networks", "--rate-limit", "0", *FAST,
             "--feed-min-interval", "0.1", "--feed-default-interval", "0.1"]  # fmt: skip
    replica = Service("--workers", "0", *flags, store=redis_url, log_path=tmp_path / "replica.log")
    workers = [WorkerProcess("--workers", "4", *flags, store=redis_url, log_path=tmp_path / f"w{n}.log")
               for n in range(2)]  # fmt: skip
    await replica.start()
    await asyncio.gather(*(worker.start() for worker in workers))
    try:
        await watch(replica, "slow", url)
        await server.wait_requests("/slow.xml", 8, timeout=60)
    finally:
        replica.stop()
        for worker in workers:
            await worker.stop()
    assert most == 1
    polls = server.requests_to("/slow.xml")
    assert all(later.at - earlier.at >= 0.35 for earlier, later in itertools.pairwise(polls[1:]))


async def test_finding_the_feed_of_a_huge_page_leaves_the_service_answering(
    poller: Service, server: FeedServer
) -> None:
    """PUT /feeds of a page reads its head for <link rel=alternate>, its charset first, as Chromium scans for it: a
    head of 800,000 <meta> tags is seconds of Python, which ran on the event loop and held every other request."""
    page = server.feed(
        "/huge", Feed("<html><head>" + "<meta x=1>" * 800_000 + "</head></html>", content_type="text/html")
    )
    async with aiohttp.ClientSession() as session:
        reading = aiohttp.ClientTimeout(total=120)  # the page is read in seconds: more than call's 10 on a busy machine
        put = asyncio.create_task(session.put(f"{poller.base_url}/feeds/huge", json={"url": page}, timeout=reading))
        slowest = await slowest_health_check(poller, put, session)
        async with await put as answer:
            status, body = answer.status, await answer.json()
    assert (status, body["error"]["code"]) == (400, "no_feed_found"), body
    assert slowest < 1.5, f"/healthz waited {slowest:.1f} s while the page was read"


async def test_pages_read_to_find_their_feed_are_read_one_at_a_time_per_extraction_child(
    tmp_path: Path, server: FeedServer
) -> None:
    """Reading the head of a 4 MB page of <meta> tags takes some 180 MB for its tree: read in parallel, one per PUT
    /feeds (in the threads that also resolve every fetch's host name), three such PUTs took three times that. A page
    this large is read in an extraction child, one page at a time each: with one child, one page at a time."""
    page = server.feed(
        "/huge", Feed("<html><head>" + "<meta x=1>" * 400_000 + "</head></html>", content_type="text/html")
    )
    poller = sqlite_service(tmp_path, "--parse-processes", "1")
    await poller.start()
    assert poller.process is not None
    rss = PeakRSS(poller.process.pid)
    sampler = asyncio.create_task(rss.run())

    async def put(session: aiohttp.ClientSession, feed_id: str) -> tuple[int, str]:
        url = f"{poller.base_url}/feeds/{feed_id}"
        async with session.put(url, json={"url": page}, timeout=aiohttp.ClientTimeout(total=120)) as answer:
            return answer.status, (await answer.json())["error"]["code"]

    try:
        baseline = rss.sample()
        async with aiohttp.ClientSession() as session:
            answers = await asyncio.gather(*(put(session, f"huge{n}") for n in range(3)))
    finally:
        sampler.cancel()
        poller.stop()
    assert answers == [(400, "no_feed_found")] * 3
    assert rss.peak - baseline < 400 * 2**20, f"{(rss.peak - baseline) / 2**20:.0f} MiB more while reading"


@pytest.mark.parametrize(
    ("named_by", "filler"),
    [("head", ""), ("Link header", ""), ("head", "<meta x=1>" * 5_000)],  # the last, 50 KB: read in a child
    ids=["head", "link-header", "large-page"],
)
async def test_a_page_that_names_no_feed_but_a_websub_hub_is_watched_as_a_page(
    poller: Service, server: FeedServer, named_by: str, filler: str
) -> None:
    """A WebSub topic may be any document (W3C WebSub 1; websub.rocks' are HTML pages): a page that names a hub and
    no feed is watched for its links, as asked with "watch": "links", and said so; it was refused (no_feed_found)."""
    hub = f"{server.origin}/hub"
    head = f"<link rel=hub href='{hub}'>" if named_by == "head" else ""
    headers = {"Link": f'<{hub}>; rel="hub"'} if named_by == "Link header" else {}
    page = server.feed(
        "/blog",
        Feed(f"<html><head>{filler}{head}</head><body><a href=/post/1>post</a></body></html>",
             content_type="text/html", extra_headers=headers),
    )  # fmt: skip
    status, body = await poller.call("PUT", "/feeds/blog", json={"url": page})
    assert (status, body["watch"], body["url"]) == (201, "links", page), body
    assert (await poller.call("PUT", "/feeds/blog", json={"url": page, "watch": "feed"}))[0] == 200  # the same ask
    status, body = await poller.call("PUT", "/feeds/blog", json={"url": page, "watch": "links"})
    assert (status, body["error"]["code"]) == (409, "conflict"), body
    async with asyncio.timeout(20):
        while not (await poller.call("GET", "/feeds/blog/entries"))[1]["entries"]:
            await asyncio.sleep(0.05)
    _status, listed = await poller.call("GET", "/feeds/blog/entries")
    assert [entry["link"] for entry in listed["entries"]] == [f"{server.origin}/post/1"]


async def test_exports_and_imports_read_every_feed_one_at_a_time(tmp_path: Path) -> None:
    """Each export (a GET, no submission) and each import (one outline is one submission) read the whole store's
    feeds: 50,000 were 2.4 s of the store and 11 MiB held until the answer was made, and 32 exports sent at once took
    98 s and 367 MiB. One request reads them at a time in a process: an import waits its turn, an export that finds
    another reading is a 503 busy with Retry-After."""
    store = open_store(Settings(store=f"sqlite:///{tmp_path}/l.db"))
    await store.open()
    try:  # a store of many feeds (no worker polls them), made directly: through the API it takes minutes
        await asyncio.gather(*(
            store.create_feed(FeedRecord(f"f{n}", {"url": url, "follow": False, "watch": "feed"}, url))
            for n in range(5000) for url in [f"http://127.0.0.1:9/{n}.xml"]
        ))  # fmt: skip
    finally:
        await store.close()
    service = Service(
        "--allow-private-networks", "--workers", "0", "--rate-limit", "0", store=f"sqlite:///{tmp_path}/l.db"
    )
    await service.start()
    opml = b'<opml version="2.0"><body><outline xmlUrl="http://127.0.0.1:9/0.xml"/></body></opml>'
    try:
        async with aiohttp.ClientSession() as session:

            async def export() -> tuple[int, str | None, bytes]:
                async with session.get(service.base_url + "/feeds/export.opml") as answer:
                    return answer.status, answer.headers.get("Retry-After"), await answer.read()

            async def imported() -> tuple[int, Any]:
                async with session.post(service.base_url + "/feeds/import", data=opml) as answer:
                    return answer.status, await answer.json()

            exports = asyncio.gather(*(export() for _ in range(8)))
            imports = await asyncio.gather(*(imported() for _ in range(8)))
            exported = await exports
    finally:
        service.stop()
    assert all(status == 200 and answer["results"][0]["status"] == "existing" for status, answer in imports), imports
    busy = [orjson.loads(body) for status, after, body in exported if status == 503 and after == "1"]
    assert busy and all(body["error"]["code"] == "busy" for body in busy), [answer[:2] for answer in exported]
    assert all(body.count(b"<outline ") == 5000 for status, _after, body in exported if status == 200)
