"""Feeds on a full disk. Polls on a disk too full to take a poll's outcome (room left for small writes: a job's
claim, not for the entries a poll found): the poll waits and runs again, backed off, each entry is sent once space
returns, and the feed's state says nothing the store could not take. WebSub deliveries are refused, so that the hub
delivers them again."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from tests.feeds.test_websub import atom
from tests.support.disk import fill, small_disk
from tests.support.feed_site import Feed, FeedServer, rss
from tests.support.service import Service, receive_until
from tests.support.websub_hub import WebSubHub

ATOM = "application/atom+xml"
FAST = ["--feed-min-interval", "0.3", "--feed-max-interval", "3", "--feed-default-interval", "0.5"]
LEASE_SECONDS = 4.0
ENTRIES = 300
WATCHED = 8.0  # seconds of a full disk


async def test_a_poll_whose_outcome_the_disk_cannot_take_waits_and_loses_nothing(
    tmp_path: Path, feed_site: FeedServer
) -> None:
    feed = Feed(rss(("first", "First")))
    url = feed_site.feed("/feed.xml", feed)
    with small_disk(tmp_path / "disk") as disk:
        service = Service(
            "--allow-private-networks", "--rate-limit", "0", "--job-visibility-timeout", str(LEASE_SECONDS), *FAST,
            store=f"sqlite:///{disk}/linkcast.db", log_path=tmp_path / "serve.log",
        )  # fmt: skip
        await service.start()
        try:
            async with service.connect("request_id=f&since=0", close_timeout=0.1) as ws:
                assert (await service.call("PUT", "/feeds/f", json={"url": url}))[0] == 201
                await receive_until(ws, lambda fs: any(f["type"] == "feed.entry" for f in fs), 30)
            filler = fill(disk, leave=400_000)
            feed.update(rss(("first", "First"), *((f"e{n}", "x" * 4000) for n in range(ENTRIES))))  # 1.2 MB
            before = len(feed_site.requests_to("/feed.xml"))
            await asyncio.sleep(WATCHED)
            polls = len(feed_site.requests_to("/feed.xml")) - before
            # Handed back at once, the poll ran five times in a second and a half, then ended in worker_lost.
            assert 1 <= polls <= 5, f"{polls} polls in {WATCHED} s of a full disk"
            filler.unlink()
            async with service.connect("request_id=f&since=0") as ws:
                frames = await receive_until(ws, lambda fs: sum(f["type"] == "feed.entry" for f in fs) > ENTRIES, 30)
            status, record = await service.call("GET", "/feeds/f")
            assert status == 200 and record["entry_count"] == ENTRIES + 1, record
            assert (record["state"], record["last_error"]) == ("active", None), record
        finally:
            service.stop()
    entries = Counter(f["entry_id"] for f in frames if f["type"] == "feed.entry")
    assert max(entries.values()) == 1 and len(entries) == ENTRIES + 1
    assert [f for f in frames if f["type"] == "feed.error"] == []  # no worker_lost: the store refused, nobody died
    log = (tmp_path / "serve.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]


async def test_a_websub_delivery_the_disk_cannot_take_is_refused_so_that_the_hub_delivers_it_again(
    tmp_path: Path, feed_site: FeedServer, websub_hub: WebSubHub
) -> None:
    """A 2xx for a delivery that was not stored would lose its entries: the hub delivers each one once."""
    own = feed_site.url("/pushed.xml")
    url = feed_site.feed("/pushed.xml", Feed(atom("a", hub=websub_hub.hub_url, own=own), content_type=ATOM))
    with small_disk(tmp_path / "disk") as disk:
        service = Service(
            "--allow-private-networks", "--rate-limit", "0", "--feed-min-interval", "0.3", "--feed-max-interval",
            "30", store=f"sqlite:///{disk}/linkcast.db", log_path=tmp_path / "serve.log",
        )  # fmt: skip
        service.flags += ["--public-url", service.base_url]
        await service.start()
        try:
            async with service.connect("request_id=f&since=0", close_timeout=0.1) as ws:
                assert (await service.call("PUT", "/feeds/f", json={"url": url}))[0] == 201
                [asked] = await websub_hub.wait_asked(1)
                assert asked.confirmed, asked.verification
                await receive_until(ws, lambda fs: any(f["type"] == "feed.entry" for f in fs), 30)
            pushed = atom("b", "a", hub=websub_hub.hub_url, own=own).encode()
            filler = fill(disk)
            assert await websub_hub.deliver(own, pushed, ATOM) == 507
            filler.unlink()
            assert await websub_hub.deliver(own, pushed, ATOM) in (200, 202, 204)  # the hub's retry
            async with service.connect("request_id=f&since=0") as ws:
                frames = await receive_until(ws, lambda fs: any(f.get("entry_id") == "urn:b" for f in fs), 30)
        finally:
            service.stop()
    assert [f["entry_id"] for f in frames if f["type"] == "feed.entry"] == ["urn:a", "urn:b"]
    log = (tmp_path / "serve.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]
