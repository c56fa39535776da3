"""Feed polls on a disk too full to take a poll's outcome (room left for small writes: a job's claim, not for the
entries a poll found): the poll waits and runs again, backed off, each entry is sent once space returns, and the
feed's state says nothing the store could not take."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from tests.support.disk import fill, small_disk
from tests.support.feed_site import Feed, FeedServer, rss
from tests.support.service import Service, receive_until

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
