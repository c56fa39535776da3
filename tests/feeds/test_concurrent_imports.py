"""One OPML list imported twice at once, against the real service on SQLite: each feed is watched once."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

import aiohttp

from tests.support.service import Service

FEEDS = 200


async def test_one_opml_list_imported_twice_at_once_watches_each_feed_once(tmp_path: Path) -> None:
    service = Service("--allow-private-networks", "--workers", "0", "--rate-limit", "0",
                      store=f"sqlite:///{tmp_path}/s.db", log_path=tmp_path / "s.log")  # fmt: skip
    await service.start()
    urls = [f"http://127.0.0.1:9/feed/{n}.xml" for n in range(FEEDS)]
    outlines = "".join(f'<outline type="rss" text="{n}" xmlUrl="{url}"/>' for n, url in enumerate(urls))
    opml = f'<?xml version="1.0"?><opml version="2.0"><head/><body>{outlines}</body></opml>'.encode()
    try:
        async with aiohttp.ClientSession() as session:
            answers = await asyncio.gather(
                *(service.call("POST", "/feeds/import", data=opml, session=session) for _ in range(2))
            )
            assert [status for status, _ in answers] == [200, 200], answers
            status, listed = await service.call("GET", f"/feeds?limit={2 * FEEDS}", session=session)
        assert status == 200
        watched = Counter(feed["url"] for feed in listed["feeds"])
        assert set(watched) == set(urls) and max(watched.values()) == 1, "a feed of the list is watched twice"
        outcomes = Counter((result["url"], result["status"]) for _, answer in answers for result in answer["results"])
        assert outcomes == {(url, status): 1 for url in urls for status in ("accepted", "existing")}
        ids = {result["url"]: result["feed_id"] for _, answer in answers for result in answer["results"]}
        assert all(ids[feed["url"]] == feed["feed_id"] for feed in listed["feeds"])
    finally:
        service.stop()
