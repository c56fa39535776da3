"""WebSub through the whole service, the parts the websub.rocks checks leave open: deliveries of every feed format
and of other content types (WebSub 7: the hub sends the topic's content as it is), signatures written in any case,
and subscription requests a hub refuses or redirects the wrong way (each ends in ``failed`` with the reason, and the
feed goes on being polled)."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio
from aiohttp import web

from linkcast.feeds.websub.signature import sign
from tests.feeds.test_websub import ATOM, atom, push_state, rss_with_hub, subscribed, subscriber, watch
from tests.support.feed_site import Feed, FeedServer
from tests.support.service import Service
from tests.support.websub_hub import WebSubHub


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def service(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Service]:
    running = subscriber(tmp_path_factory.mktemp("websub-distribution"))
    await running.start()
    yield running
    running.stop()


def json_feed(hub: str, own: str, *ids: str) -> str:
    items = [{"id": f"urn:{i}", "url": f"https://example.org/{i}", "title": i} for i in ids]
    document = {"version": "https://jsonfeed.org/version/1.1", "title": "J", "feed_url": own, "items": items}
    return json.dumps(document | {"hubs": [{"type": "WebSub", "url": hub}]})


async def entry_ids(service: Service, feed_id: str, count: int) -> list[str]:
    """The feed's entry ids once it has ``count``."""
    async with asyncio.timeout(20):
        while True:
            _status, listed = await service.call("GET", f"/feeds/{feed_id}/entries")
            if len(listed["entries"]) >= count:
                return sorted(e["entry_id"] for e in listed["entries"])
            await asyncio.sleep(0.05)


async def settled(service: Service, feed_id: str, state: str) -> dict[str, Any]:
    async with asyncio.timeout(20):
        while True:
            _status, record = await service.call("GET", f"/feeds/{feed_id}")
            if record.get("push") and record["push"]["state"] == state:
                return dict(record["push"])
            await asyncio.sleep(0.05)


# -- what a delivery may be -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "content_type"),
    [
        ("rss", "application/rss+xml"),
        ("json", "application/feed+json"),
        ("json", "application/json"),
        ("atom", "text/xml; charset=utf-8"),
        ("atom", "application/octet-stream"),  # a hub that forgot the type: the body says what it is
        ("atom", ""),
    ],
)
async def test_a_delivery_of_any_feed_format_brings_its_new_entries(
    service: Service, site: FeedServer, hub: WebSubHub, kind: str, content_type: str
) -> None:
    feed_id = f"kind-{kind}-" + re.sub(r"[^a-z0-9]", "_", content_type)
    own = site.url(f"/{feed_id}")
    bodies = {
        "rss": lambda *ids: rss_with_hub(hub.hub_url, own, *[(f"urn:{i}", i) for i in ids]),
        "json": lambda *ids: json_feed(hub.hub_url, own, *ids),
        "atom": lambda *ids: atom(*ids, hub=hub.hub_url, own=own),
    }
    url = site.feed(f"/{feed_id}", Feed(bodies[kind]("a"), content_type=content_type or ATOM))
    await subscribed(service, hub, feed_id, url)
    [first] = await entry_ids(service, feed_id, 1)
    assert 200 <= await hub.deliver(own, bodies[kind]("b", "a").encode(), content_type) < 300
    ids = await entry_ids(service, feed_id, 2)
    assert first in ids and len(ids) == 2
    push = await push_state(service, feed_id)
    assert (push["pushes"], push["dropped"]) == (1, 0)


async def test_a_delivery_that_is_no_feed_is_answered_2xx_and_dropped(
    service: Service, site: FeedServer, hub: WebSubHub
) -> None:
    own = site.url("/not-a-feed")
    url = site.feed("/not-a-feed", Feed(atom("a", hub=hub.hub_url, own=own), content_type=ATOM))
    await subscribed(service, hub, "not-a-feed", url)
    await entry_ids(service, "not-a-feed", 1)
    assert 200 <= await hub.deliver(own, b"\x89PNG\r\n\x1a\n" + bytes(100), "image/png") < 300
    push = await push_state(service, "not-a-feed")
    assert (push["pushes"], push["dropped"]) == (0, 1)


@pytest.mark.parametrize("case", ["upper", "spaced"])
async def test_a_signature_is_read_whatever_the_case_of_its_method_and_digest(
    service: Service, site: FeedServer, hub: WebSubHub, case: str
) -> None:
    feed_id = f"case-{case}"
    own = site.url(f"/{feed_id}")
    url = site.feed(f"/{feed_id}", Feed(atom("a", hub=hub.hub_url, own=own), content_type=ATOM))
    await subscribed(service, hub, feed_id, url)
    await entry_ids(service, feed_id, 1)
    body = atom("b", "a", hub=hub.hub_url, own=own).encode()
    subscription = hub.subscribers[own]
    assert subscription.secret is not None
    signature = sign(subscription.secret, body, "sha384")
    signature = signature.upper() if case == "upper" else signature.replace("=", " = ")
    headers = {"content-type": ATOM, "x-hub-signature": signature}
    assert hub.session is not None
    async with hub.session.post(subscription.callback, data=body, headers=headers) as answer:
        assert 200 <= answer.status < 300
    await entry_ids(service, feed_id, 2)


# -- hubs that refuse ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("how", "reason"),
    [
        ("refuse", "the hub answered 500: the hub is down"),
        ("302", "the hub answered 302"),
        ("loop", "the hub could not be asked"),
    ],
)
async def test_a_subscription_the_hub_refuses_ends_failed_with_its_reason_and_the_feed_is_polled(
    service: Service, site: FeedServer, hub: WebSubHub, how: str, reason: str
) -> None:
    feed_id = f"refused-{how}"
    hub_url = hub.hub_url
    if how == "refuse":
        hub.behaviour.refuse = True
    elif how == "302":  # a 302 to a POST is not followed (it would become a GET): the hub is asked nothing more
        hub_url = hub.redirect("/hub-302", 302)
    else:
        hub.behaviour.redirects["/hub-loop"] = (307, "/hub-loop")
        hub_url = hub.route("/hub-loop", hub._request)
    own = site.url(f"/{feed_id}")
    url = site.feed(f"/{feed_id}", Feed(rss_with_hub(hub_url, own, ("a", "A"))))
    await watch(service, feed_id, url)
    push = await settled(service, feed_id, "failed")
    assert push["reason"].startswith(reason), push
    assert push["pending"] is None and push["pushes"] == 0
    polls = len(site.requests_to(f"/{feed_id}"))
    await site.wait_requests(f"/{feed_id}", polls + 2, timeout=10)  # polled at the feed's own interval
    if how == "302":
        assert {a.path for a in hub.asked} == {"/hub-302"}, "never followed to /hub"


async def test_a_hub_that_never_verifies_ends_failed_and_is_asked_again_later(
    tmp_path: Path, site: FeedServer, hub: WebSubHub
) -> None:
    service = subscriber(tmp_path, "--websub-verify-timeout", "1")
    await service.start()
    try:
        hub.behaviour.silent = True
        own = site.url("/silent")
        url = site.feed("/silent", Feed(rss_with_hub(hub.hub_url, own, ("a", "A"))))
        await watch(service, "silent", url)
        push = await settled(service, "silent", "failed")
        assert "did not verify" in push["reason"]
        await hub.wait_for(lambda: len(hub.asked) >= 2, timeout=20)  # asked again after the back-off
    finally:
        service.stop()


async def test_a_chunked_delivery_past_the_body_cap_is_refused_413(
    tmp_path: Path, site: FeedServer, hub: WebSubHub
) -> None:
    """No Content-Length to refuse it by: the cap holds as the body arrives."""
    service = subscriber(tmp_path, "--max-body-bytes", "50000")
    await service.start()
    try:
        own = site.url("/chunked")
        url = site.feed("/chunked", Feed(atom("a", hub=hub.hub_url, own=own), content_type=ATOM))
        await subscribed(service, hub, "chunked", url)

        async def chunks() -> AsyncIterator[bytes]:
            yield b"<feed>"
            for _ in range(100):
                yield b" " * 10_000

        assert hub.session is not None
        callback = hub.subscribers[own].callback
        # Signed (its signature cannot be checked before the body is read): an unsigned one is refused 403 unread.
        headers = {"Content-Type": ATOM, "X-Hub-Signature": "sha256=" + "0" * 64}
        async with hub.session.post(callback, data=chunks(), headers=headers) as answer:
            assert answer.status == 413
        assert (await push_state(service, "chunked"))["dropped"] == 1
    finally:
        service.stop()


# -- discovery -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["header", "document"])
async def test_a_hub_named_without_a_self_url_is_asked_for_the_feeds_url(
    service: Service, site: FeedServer, hub: WebSubHub, where: str
) -> None:
    """WebSub 4: the topic is the rel=self URL *when there is one*; a publisher that names only its hub still has a
    topic, the feed's URL (not where a temporary redirect led: that may change at each poll)."""
    feed_id = f"selfless-{where}"
    final = site.url(f"/{feed_id}-moved")
    if where == "header":
        feed = Feed(atom("a"), content_type=ATOM, extra_headers={"Link": f'<{hub.hub_url}>; rel="hub"'})
    else:
        feed = Feed(atom("a", hub=hub.hub_url), content_type=ATOM)
    site.feed(f"/{feed_id}-moved", feed)
    start = site.feed(f"/{feed_id}", Feed(atom("a")))
    site.feeds[f"/{feed_id}"].queued = [(302, {"Location": final})] * 10
    assert await subscribed(service, hub, feed_id, start) == start
    await entry_ids(service, feed_id, 1)
    assert 200 <= await hub.deliver(start, atom("b", "a", hub=hub.hub_url).encode(), ATOM, own="") < 300
    await entry_ids(service, feed_id, 2)


async def test_a_json_feeds_hub_of_another_protocol_is_passed_over_for_its_websub_hub(
    service: Service, site: FeedServer, hub: WebSubHub
) -> None:
    """JSON Feed 1.1: a hub's ``type`` is the protocol it speaks; an rssCloud endpoint listed first is not asked."""
    own = site.url("/json-hubs")
    document = json.loads(json_feed(hub.hub_url, own, "a"))
    document["hubs"].insert(0, {"type": "rssCloud", "url": hub.url("/rsscloud")})
    site.feed("/json-hubs", Feed(json.dumps(document), content_type="application/feed+json"))
    await watch(service, "json-hubs", own)
    async with asyncio.timeout(20):
        while (push := await push_state(service, "json-hubs")) is None or push["state"] == "requested":
            await asyncio.sleep(0.05)
    assert (push["state"], push["hub"]) == ("subscribed", hub.hub_url), push


async def test_once_the_first_hub_fails_the_next_hub_the_feed_names_is_subscribed_to(
    service: Service, site: FeedServer, hub: WebSubHub
) -> None:
    """WebSub 4: a publisher names several hubs so that one failing is not the end of its pushes."""

    async def down(_request: web.Request) -> web.Response:
        return web.Response(status=503, text="down for maintenance")

    first = hub.route("/down", down)
    own = site.url("/two-hubs")
    links = f'<{first}>; rel="hub", <{hub.hub_url}>; rel="hub", <{own}>; rel="self"'
    site.feed("/two-hubs", Feed(atom("a"), content_type=ATOM, extra_headers={"Link": links}))
    await watch(service, "two-hubs", own)
    [asked] = await hub.wait_asked(1, timeout=10)
    assert asked.confirmed and asked.topic == own
    push = await settled(service, "two-hubs", "subscribed")
    assert push["hub"] == hub.hub_url
