"""A feed removed while its poll waits for the answer of a redirect, against the real service on SQLite and a site
that holds that answer until the test releases it: once DELETE has answered, the redirect is not followed and the
removed feed sends nothing more."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from aiohttp import web

from tests.support.service import Service, receive_until
from tests.support.site import LocalSite

WAIT = 10.0


async def test_a_redirect_of_a_feed_removed_during_its_poll_is_not_followed(tmp_path: Path) -> None:
    site = LocalSite()
    asked: Counter[str] = Counter()
    reached, release = asyncio.Event(), asyncio.Event()

    async def answer(request: web.Request) -> web.StreamResponse:
        asked[request.path] += 1
        if request.path == "/moved":
            reached.set()
            await release.wait()
            return web.Response(status=302, headers={"Location": "/links"})
        return web.Response(text="<a href='/entry'>an entry</a>", content_type="text/html")

    for path in ("/moved", "/links", "/after"):
        site.route(path, answer)
    await site.start()
    # One worker: the request sent after the release is taken once the poll has ended.
    service = Service("--allow-private-networks", "--workers", "1", "--rate-limit", "0",
                      store=f"sqlite:///{tmp_path}/s.db", log_path=tmp_path / "s.log")  # fmt: skip
    await service.start()
    try:
        async with service.connect("request_id=f&request_id=after&since=0") as ws:
            body = {"url": site.url("/moved"), "watch": "links"}
            assert (await service.call("PUT", "/feeds/f", json=body))[0] == 201
            async with asyncio.timeout(WAIT):
                await reached.wait()
            assert (await service.call("DELETE", "/feeds/f"))[0] == 200
            release.set()
            assert (await service.put("after", site.url("/after")))[0] == 201
            frames = await receive_until(ws, lambda fs: any(f["request_id"] == "after" and f["type"] == "result"
                                                            for f in fs), WAIT)  # fmt: skip
        assert asked["/links"] == 0, "the redirect was followed after DELETE had answered"
        assert [f["type"] for f in frames if f["request_id"] == "f"] == ["feed.accepted", "feed.removed"]
    finally:
        service.stop()
        await site.stop()
