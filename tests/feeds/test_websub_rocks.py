"""The websub.rocks subscriber checks, one by one, against a replica of the site on loopback
(``tests/support/websub_rocks.py``): each test passes when the site would say so. The pages (100, 101, 200-205,
300-302) and the feeds (102-104) are watched as a client would, with no option: the pages, which name a hub and no
feed, are watched for their links (``"watch": "links"``), the feeds as feeds."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.support.service import Service, receive_until
from tests.support.websub_rocks import Blog, WebSubRocks

FAST = ["--feed-min-interval", "0.3", "--feed-max-interval", "30", "--feed-default-interval", "0.5"]
FEEDS = (102, 103, 104)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def service(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Service]:
    tmp_path: Path = tmp_path_factory.mktemp("rocks")
    running = Service("--allow-private-networks", "--rate-limit", "0", "--websub-verify-timeout", "20", *FAST,
                      store=f"sqlite:///{tmp_path}/l.db", log_path=tmp_path / "serve.log")  # fmt: skip
    running.flags += ["--public-url", running.base_url]
    await running.start()
    yield running
    running.stop()


@pytest.fixture
async def rocks() -> AsyncIterator[WebSubRocks]:
    site = WebSubRocks()
    await site.start()
    yield site
    await site.stop()


async def watch(service: Service, rocks: WebSubRocks, blog: Blog) -> str:
    feed_id = f"rocks-{blog.num}-{blog.token}"
    status, body = await service.call("PUT", f"/feeds/{feed_id}", json={"url": rocks.topic_of(blog)})
    assert (status, body["watch"]) == (201, "feed" if blog.num in FEEDS else "links"), body
    return feed_id


async def push_state(service: Service, feed_id: str, done: Any, timeout: float = 20.0) -> dict[str, Any]:
    """The feed's ``push`` once ``done`` holds of it."""
    async with asyncio.timeout(timeout):
        while True:
            status, record = await service.call("GET", f"/feeds/{feed_id}")
            assert status == 200, record
            push = record.get("push")
            if push is not None and done(push):
                return dict(push)
            await asyncio.sleep(0.05)


async def settled_push(service: Service, feed_id: str, blog: Blog, timeout: float = 20.0) -> dict[str, Any]:
    """The feed's ``push`` once its subscription left ``requested``, or read after the site had its last word (the
    subscriber answers the hub after storing what it answered: read before, it could still say ``requested``)."""
    async with asyncio.timeout(timeout):
        while True:
            answered = bool(blog.results)
            push = await push_state(service, feed_id, lambda _push: True)
            if push["state"] != "requested" or answered:
                return push
            await asyncio.sleep(0.05)


async def entries_once_polled(service: Service, feed_id: str) -> set[str]:
    """The ids of the feed's entries, once it has some."""
    async with asyncio.timeout(20):
        while True:
            _status, listed = await service.call("GET", f"/feeds/{feed_id}/entries")
            if listed.get("entries"):
                return {e["entry_id"] for e in listed["entries"]}
            await asyncio.sleep(0.05)


async def verdict(service: Service, rocks: WebSubRocks, blog: Blog) -> tuple[str, dict[str, Any]]:
    """Watch the blog; what the site says once the subscription settled (its last result), and the feed's push."""
    feed_id = await watch(service, rocks, blog)
    push = await settled_push(service, feed_id, blog)
    return str(blog.results[-1]["type"]) if blog.results else "none", push


@pytest.mark.parametrize("num", [100, 101, 102, 103, 104, 200, 201, 202, 203, 204])
async def test_the_site_says_success(service: Service, rocks: WebSubRocks, num: int) -> None:
    blog = rocks.blog(num)
    said, push = await verdict(service, rocks, blog)
    assert said == "success", blog.results
    assert [r["type"] for r in blog.results] == ["success"], "no other request reached the hub"
    assert blog.answers == [(200, "text/plain; charset=utf-8")], "the challenge alone, as text"
    assert push["state"] == "subscribed" and push["lease_seconds"] == 86400


async def test_205_the_verification_for_another_topic_is_rejected(service: Service, rocks: WebSubRocks) -> None:
    blog = rocks.blog(205)
    said, push = await verdict(service, rocks, blog)
    assert said == "success", blog.results
    assert push["state"] != "subscribed"
    assert [status for status, _type in blog.answers] == [404]


async def test_300_a_delivery_is_answered_2xx_and_its_new_post_is_an_entry(
    service: Service, rocks: WebSubRocks
) -> None:
    blog = rocks.blog(300)
    feed_id = f"rocks-300-{blog.token}"
    await verdict(service, rocks, blog)
    before = await entries_once_polled(service, feed_id)
    async with service.connect(f"request_id={feed_id}") as ws:
        delivered, said = await rocks.publish(blog)
        assert said == "success", delivered
        frames = await receive_until(ws, lambda frames: any(f.get("type") == "feed.entry" for f in frames))
    assert [f["entry_id"] for f in frames if f["type"] == "feed.entry"] == [rocks.topic_of(blog) + "#quote-3"]
    push = await push_state(service, feed_id, lambda p: p["pushes"] == 1)
    assert push["dropped"] == 0
    assert await entries_once_polled(service, feed_id) == before | {rocks.topic_of(blog) + "#quote-3"}


@pytest.mark.parametrize("num", [301, 302])
async def test_301_302_a_delivery_with_a_bad_or_no_signature_is_refused_and_dropped(
    service: Service, rocks: WebSubRocks, num: int
) -> None:
    blog = rocks.blog(num)
    feed_id = f"rocks-{num}-{blog.token}"
    await verdict(service, rocks, blog)
    before = await entries_once_polled(service, feed_id)
    delivered, said = await rocks.publish(blog)
    assert said == "success", delivered
    push = await push_state(service, feed_id, lambda p: p["dropped"] == 1)
    assert push["pushes"] == 0
    assert await entries_once_polled(service, feed_id) == before


@pytest.mark.parametrize("num", [100, 101, 102, 103, 104, 200, 201, 202, 203, 204])
async def test_a_post_published_after_any_test_subscribed_is_an_entry(
    service: Service, rocks: WebSubRocks, num: int
) -> None:
    """websub.rocks shows "Create New Post" on every test once subscribed, and delivers the page or feed as a GET
    would have it, always as ``text/html`` (an Atom or RSS feed too)."""
    blog = rocks.blog(num)
    feed_id = f"rocks-{num}-{blog.token}"
    await verdict(service, rocks, blog)
    before = await entries_once_polled(service, feed_id)
    delivered, _said = await rocks.publish(blog)
    assert [code // 100 for code in delivered] == [2]
    push = await push_state(service, feed_id, lambda p: p["pushes"] + p["dropped"] >= 1)
    assert (push["pushes"], push["dropped"]) == (1, 0)
    after = await entries_once_polled(service, feed_id)
    assert len(after - before) == 1 and before <= after, (before, after)


async def test_removing_the_feed_unsubscribes_and_the_site_says_so(service: Service, rocks: WebSubRocks) -> None:
    """websub.rocks verifies an unsubscription inside the request too; the callback then answers 410."""
    blog = rocks.blog(100)
    feed_id = f"rocks-100-{blog.token}"
    await verdict(service, rocks, blog)
    [subscription] = blog.subscriptions.values()
    status, _body = await service.call("DELETE", f"/feeds/{feed_id}")
    assert status in (200, 204)
    async with asyncio.timeout(20):
        while len(blog.results) < 2:
            await asyncio.sleep(0.05)
    assert blog.results[-1] == {"type": "success", "mode": "unsubscribe", "topic": rocks.topic_of(blog)}
    assert not subscription.active
    subscription.active = True  # a hub that delivers all the same
    delivered, _said = await rocks.publish(blog)
    assert delivered == [410]
