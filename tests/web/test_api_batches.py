"""Many URLs at once, listing requests, and retrying a failed one, against the real service."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiohttp import web

from tests.support.service import Service, receive_until, terminal_for
from tests.support.site import LocalSite


async def test_a_batch_answers_each_url_in_order_and_refuses_only_the_bad_ones(
    service: Service, site: LocalSite
) -> None:
    good = [site.page(f"/b{n}", f'<a href="/after{n}">.</a>') for n in range(3)]
    urls = [good[0], "not a url", good[1], "ftp://x.example/", good[2]]
    async with service.connect() as ws:
        status, body = await service.call("POST", "/urls", json={"urls": urls})
        assert status == 200, body
        results = body["results"]
        assert [r["index"] for r in results] == [0, 1, 2, 3, 4]
        assert [r.get("status") or r["error"]["code"] for r in results] == [
            "accepted", "invalid_url", "accepted", "invalid_url", "accepted",
        ]  # fmt: skip
        accepted = {r["request_id"]: r["url"] for r in results if "request_id" in r}
        assert list(accepted.values()) == good
        frames = await receive_until(ws, lambda fs: len(terminal_for(fs, set(accepted))) == 3)
    for request_id, event in terminal_for(frames, set(accepted)).items():
        n = good.index(accepted[request_id])
        assert event["links"] == [site.url(f"/after{n}")]


@pytest.mark.parametrize(
    ("urls", "code"),
    [
        ([], "invalid_urls"),
        (["https://a.example/"] * 1001, "invalid_urls"),
        ([{"url": "x"}], "invalid_urls"),
        ("https://a.example/", "invalid_urls"),
    ],
    ids=["empty", "too-many", "not-strings", "not-a-list"],
)
async def test_a_malformed_batch_is_refused_whole(service: Service, urls: object, code: str) -> None:
    status, body = await service.call("POST", "/urls", json={"urls": urls})
    assert (status, body["error"]["code"]) == (400, code)
    status, listing = await service.call("GET", "/urls")
    assert listing["requests"] == []


async def test_a_body_with_both_url_and_urls_is_refused_not_read_as_either(service: Service) -> None:
    """Which was meant cannot be told: the batch was taken and the single URL dropped without a word."""
    body = {"url": "https://one.example/", "urls": ["https://two.example/"]}
    status, answer = await service.call("POST", "/urls", json=body)
    assert status == 400 and answer["error"]["code"] == "invalid_urls", answer
    assert "both 'url' and 'urls'" in answer["error"]["message"]
    _status, listed = await service.call("GET", "/urls")
    assert listed["requests"] == [], listed


async def test_a_batch_counts_each_url_against_the_rate_limit(tmp_path: Path) -> None:
    limited = Service("--rate-limit", "1", "--rate-burst", "5", "--workers", "0", store="memory://",
                      log_path=tmp_path / "serve.log")  # fmt: skip
    await limited.start()
    try:
        status, _ = await limited.call("POST", "/urls", json={"urls": ["https://a.example/"] * 5})
        assert status == 200
        status, body = await limited.call("POST", "/urls", json={"urls": ["https://a.example/"] * 2})
        assert (status, body["error"]["code"]) == (429, "rate_limited")
    finally:
        limited.stop()


async def test_a_batch_over_the_burst_is_taken_once_the_bucket_is_full_then_paid_back(tmp_path: Path) -> None:
    limited = Service("--rate-limit", "2", "--rate-burst", "3", "--workers", "0", store="memory://",
                      log_path=tmp_path / "serve.log")  # fmt: skip
    await limited.start()
    try:
        status, _ = await limited.call("POST", "/urls", json={"urls": ["https://a.example/"] * 7})
        assert status == 200  # refused until it fits, it would never be taken
        status, body = await limited.call("POST", "/urls", json={"urls": ["https://a.example/"]})
        assert (status, body["error"]["code"]) == (429, "rate_limited")  # 4 owed, then 1: 2.5 s at 2 a second
        assert "2 URLs a second" in body["error"]["message"]
    finally:
        limited.stop()


async def test_requests_are_listed_in_order_by_page_and_by_state(service: Service, site: LocalSite) -> None:
    ok, missing = site.page("/ok", "<a href='/x'>x</a>"), site.page("/gone", "gone", status=404)
    ids = [f"l{n}" for n in range(5)]
    async with service.connect() as ws:
        for n, request_id in enumerate(ids):
            await service.put(request_id, missing if n in (1, 3) else ok)
        await receive_until(ws, lambda fs: len(terminal_for(fs, set(ids))) == 5)
    listed: list[str] = []
    after = ""
    while True:
        status, page = await service.call("GET", f"/urls?limit=2{after}")
        assert status == 200
        listed.extend(record["request_id"] for record in page["requests"])
        if page["next"] is None:
            break
        after = f"&after={page['next']}"
    assert listed == ids
    status, failed = await service.call("GET", "/urls?state=failed")
    assert [r["request_id"] for r in failed["requests"]] == ["l1", "l3"]
    assert failed["requests"][0]["error"]["code"] == "http_status"
    status, done = await service.call("GET", "/urls?state=done&limit=1")
    assert done["requests"][0]["link_count"] == 1 and "links" not in done["requests"][0]


@pytest.mark.parametrize("query", ["state=lost", "limit=0", "limit=1001", "limit=x", "after=-1", "after=%C2%B2"])
async def test_a_bad_listing_argument_is_a_400(service: Service, query: str) -> None:
    status, body = await service.call("GET", f"/urls?{query}")
    assert status == 400 and body["error"]["code"] in ("invalid_state", "invalid_limit", "invalid_cursor"), body


async def test_a_failed_request_is_retried_and_ends_again(service: Service, site: LocalSite) -> None:
    answers = iter([("gone", 404), ('<a href="/back">back</a>', 200)])

    async def flaky(_request: web.Request) -> web.StreamResponse:
        text, status = next(answers)
        return web.Response(text=text, status=status, content_type="text/html")

    url = site.route("/flaky", flaky)
    async with service.connect("request_id=f") as ws:
        await service.put("f", url)
        await receive_until(ws, lambda fs: "f" in terminal_for(fs, {"f"}))
        status, body = await service.call("POST", "/urls/f/retry")
        assert (status, body) == (202, {"status": "accepted", "request_id": "f", "url": url, "retry": True})
        frames = await receive_until(ws, lambda fs: any(f.get("type") == "result" for f in fs))
    assert any(f["type"] == "accepted" and f.get("retry") for f in frames)
    assert next(f for f in frames if f["type"] == "result")["links"] == [site.url("/back")]
    status, record = await service.call("GET", "/urls/f")
    assert record["state"] == "done" and record["attempts"] == 1


async def test_only_a_failed_request_can_be_retried(service: Service, site: LocalSite) -> None:
    answer = asyncio.Event()

    async def slow(_request: web.Request) -> web.StreamResponse:
        async with asyncio.timeout(60):  # still fetching while the test asks for a retry
            await answer.wait()
        return web.Response(text="late", content_type="text/html")

    assert (await service.call("POST", "/urls/nobody/retry"))[0] == 404
    await service.put("q", site.route("/slow", slow))
    status, body = await service.call("POST", "/urls/q/retry")
    assert (status, body["error"]["code"]) == (409, "conflict")
    status, body = await service.call("PUT", "/urls/q/retry", json={"url": "https://a.example/"})
    assert status == 405
    answer.set()  # the fetch ends, so the service stops at once rather than after its grace period
