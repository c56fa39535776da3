"""PUTs of one feed at once, against the real service on SQLite and a site that holds its page until the test lets
it go: the site's feed is found once, one PUT makes the feed and the others answer it."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from pathlib import Path

import aiohttp
from aiohttp import web

from tests.support.service import Service
from tests.support.site import LocalSite

AT_ONCE = 50
# How long the site holds its page for a second request that the PUTs ought not to send.
HOLD = 0.5
RSS = """<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><link>http://x.example/</link>
<item><guid>one</guid><title>One</title><link>http://x.example/1</link></item></channel></rss>"""


async def test_the_same_put_of_a_site_s_feed_sent_many_times_at_once_finds_the_feed_once(tmp_path: Path) -> None:
    site = LocalSite()
    asked: Counter[str] = Counter()
    second = asyncio.Event()

    async def page(_request: web.Request) -> web.StreamResponse:
        asked["/"] += 1
        if asked["/"] > 1:
            second.set()
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(HOLD):
                await second.wait()
        link = '<link rel="alternate" type="application/rss+xml" href="/feed.xml">'
        return web.Response(text=link, content_type="text/html")

    async def feed(_request: web.Request) -> web.StreamResponse:
        asked["/feed.xml"] += 1
        return web.Response(text=RSS, content_type="application/rss+xml")

    site.route("/", page)
    site.route("/feed.xml", feed)
    await site.start()
    service = Service("--allow-private-networks", "--workers", "0", "--rate-limit", "0",
                      store=f"sqlite:///{tmp_path}/s.db", log_path=tmp_path / "s.log")  # fmt: skip
    await service.start()
    try:
        async with aiohttp.ClientSession() as session:
            answers = await asyncio.gather(
                *(service.call("PUT", "/feeds/f", json={"url": site.url("/")}, session=session) for _ in range(AT_ONCE))
            )
        assert Counter(status for status, _ in answers) == {201: 1, 200: AT_ONCE - 1}, answers
        assert {answer["url"] for _, answer in answers} == {site.url("/feed.xml")}
        assert asked["/"] == 1, "the site was asked for its feed by more than one PUT"
    finally:
        service.stop()
        await site.stop()
