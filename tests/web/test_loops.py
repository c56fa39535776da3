"""linkcast never submits to itself: a webhook (or WebSub hub, or any fetch) aimed at its own API would otherwise
turn each event into a new request, and each request into new events, without end."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import web

from tests.support.service import Service
from tests.support.site import LocalSite


async def test_a_webhook_aimed_at_this_api_cannot_submit_to_it(tmp_path: Path) -> None:
    # Before: PUT /webhooks/loop {"url": "<this server>/urls"} then one PUT /urls made an endless loop (each result
    # POSTed as {"url": ...} became a new request of the same page): 2,000 fetches of the page in 12 s, on and on.
    fetched: list[str | None] = []

    async def page(request: web.Request) -> web.StreamResponse:
        fetched.append(request.headers.get("CDN-Loop"))
        return web.Response(text="<p>a page</p>", content_type="text/html")

    site = LocalSite()
    site.route("/page", page)
    await site.start()
    service = Service("--allow-private-networks", store="memory://", log_path=tmp_path / "serve.log")
    await service.start()
    try:
        hook = {"url": f"{service.base_url}/urls", "events": ["result"]}
        assert (await service.call("PUT", "/webhooks/loop", json=hook))[0] == 201
        assert (await service.put("first", site.url("/page")))[0] == 201
        async with asyncio.timeout(30):
            while True:
                _, answer = await service.call("GET", "/webhooks/loop/deliveries")
                if answer["deliveries"] and answer["deliveries"][0]["attempts"] >= 1:
                    break
                await asyncio.sleep(0.05)
        [delivery] = answer["deliveries"]
        assert delivery["state"] != "delivered" and delivery["last_status"] == 403, delivery
        assert "loop_detected" in delivery["last_error"]["body"], delivery
        _, listed = await service.call("GET", "/urls")
        assert [item["request_id"] for item in listed["requests"]] == ["first"]
    finally:
        service.stop()
        await site.stop()
    assert fetched == ["linkcast"]  # every request linkcast sends says so


async def test_a_submission_that_says_it_came_from_linkcast_is_a_clear_403(tmp_path: Path) -> None:
    service = Service("--allow-private-networks", store="memory://", log_path=tmp_path / "serve.log")
    await service.start()
    try:
        for loop in ("linkcast", "cdn.example, linkcast", "Linkcast; v=1"):
            status, body = await service.call(
                "PUT", "/urls/x", json={"url": "http://127.0.0.1:9/"}, headers={"CDN-Loop": loop}
            )
            assert (status, body["error"]["code"]) == (403, "loop_detected"), (loop, body)
        # Reads stay open, and another intermediary's loop mark is none of linkcast's business.
        assert (await service.call("GET", "/urls", headers={"CDN-Loop": "linkcast"}))[0] == 200
        status, _ = await service.call(
            "PUT", "/urls/y", json={"url": "http://127.0.0.1:9/"}, headers={"CDN-Loop": "cdn.example"}
        )
        assert status == 201
    finally:
        service.stop()
