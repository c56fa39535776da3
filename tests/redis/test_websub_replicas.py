"""WebSub scaled out on Redis: the subscription is asked for by a ``linkcast worker``, its verification and deliveries
land on another API replica than the one that took the feed, and clients of every replica see the pushed entry."""

from __future__ import annotations

from pathlib import Path

from tests.feeds.test_websub import ATOM, atom
from tests.redis.deployment import WorkerProcess
from tests.support.feed_site import Feed, FeedServer
from tests.support.service import Service, receive_until
from tests.support.websub_hub import WebSubHub

FAST = ["--feed-min-interval", "0.3", "--feed-max-interval", "30", "--feed-default-interval", "0.5"]


async def test_a_callback_on_another_replica_than_the_feed_s_serves_every_client(
    redis_url: str, redis_prefix: str, tmp_path: Path, feed_site: FeedServer, websub_hub: WebSubHub
) -> None:
    site, hub = feed_site, websub_hub
    flags = ["--redis-prefix", redis_prefix, "--allow-private-networks", "--rate-limit", "0", *FAST]
    taking = Service("--workers", "0", *flags, store=redis_url, log_path=tmp_path / "a.log")
    called = Service("--workers", "0", *flags, store=redis_url, log_path=tmp_path / "b.log")
    public = ["--public-url", called.base_url]  # hubs reach replica B; clients use A
    taking.flags += public
    called.flags += public
    worker = WorkerProcess(*flags, *public, store=redis_url, log_path=tmp_path / "w.log")
    await taking.start()
    await called.start()
    await worker.start()
    try:
        own = site.url("/topic")
        url = site.feed("/topic", Feed(atom("a", hub=hub.hub_url, own=own), content_type=ATOM))
        async with taking.connect("request_id=f&since=0") as ws:
            status, body = await taking.call("PUT", "/feeds/f", json={"url": url})
            assert status == 201, body
            [asked] = await hub.wait_asked(1)
            assert asked.callback.startswith(called.base_url) and asked.confirmed, asked.verification
            await receive_until(ws, lambda frames: any(f.get("type") == "feed.entry" for f in frames))
            assert await hub.deliver(own, atom("b", "a", hub=hub.hub_url, own=own).encode(), ATOM) == 202
            frames = await receive_until(ws, lambda frames: any(f.get("type") == "feed.entry" for f in frames))
        assert [f["entry_id"] for f in frames if f["type"] == "feed.entry"] == ["urn:b"]
        _status, record = await taking.call("GET", "/feeds/f")
        assert record["push"]["state"] == "subscribed" and record["push"]["pushes"] == 1
    finally:
        taking.stop()
        called.stop()
        await worker.stop()
