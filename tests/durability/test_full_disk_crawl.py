"""A crawl running when the disk fills up, then space returns: it finishes with exactly the pages of the site, each
page event once, one crawl.done with the right counts; a crawl asked for meanwhile is refused with 507, and
``linkcast crawl`` says so in one line."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from tests.support.cli import error_line, run_cli
from tests.support.crawl_site import TreeSite
from tests.support.disk import fill, small_disk
from tests.support.service import Service, receive_until

PAGES = 60
OFFSITE_LINKS = 1000  # some 60 KB of links a page: more than the room left on the disk takes for long


async def test_a_crawl_through_a_full_disk_finishes_with_every_page_once(tmp_path: Path) -> None:
    site = TreeSite(PAGES, delay=0.05, offsite_links=OFFSITE_LINKS)
    await site.start()
    with small_disk(tmp_path / "disk", size_mib=24) as disk:
        service = Service(
            "--allow-private-networks", "--rate-limit", "0", "--workers", "2", "--job-visibility-timeout", "4.0",
            store=f"sqlite:///{disk}/linkcast.db", log_path=tmp_path / "serve.log",
        )  # fmt: skip
        await service.start()
        try:
            body = {"url": site.url("/p/0"), "max_depth": 20, "max_pages": 1000, "respect_robots": False}
            async with service.connect("request_id=tree&since=0", close_timeout=0.1) as ws:
                assert (await service.call("PUT", "/crawls/tree", json=body))[0] == 201
                await receive_until(ws, lambda fs: sum(f["type"] == "page" for f in fs) >= 10, 30)
            filler = fill(disk, leave=400_000)  # room for a claim, not for many pages' outcomes
            await asyncio.sleep(6)
            status, answer = await service.call("PUT", "/crawls/other", json=body)
            assert (status, answer["error"]["code"]) == (507, "store_full"), answer
            refused = await run_cli("crawl", "--server", service.base_url, site.url("/p/0"))
            assert "no room left" in error_line(refused, "store_full", 1)
            filler.unlink()
            async with service.connect("request_id=tree&since=0") as ws:
                frames = await receive_until(ws, lambda fs: any(f["type"] == "crawl.done" for f in fs), 60)
        finally:
            service.stop()
            await site.stop()
    pages = [f for f in frames if f["type"] == "page"]
    assert [p for p in pages if "error" in p] == []  # none ended in worker_lost: the store refused, nobody died
    counts = Counter(p["url"] for p in pages)
    assert set(counts) == site.all_urls() and max(counts.values()) == 1
    [done] = [f for f in frames if f["type"] == "crawl.done"]
    assert (done["state"], done["counts"]["fetched"], done["counts"]["failed"]) == ("done", PAGES, 0), done
    log = (tmp_path / "serve.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]
