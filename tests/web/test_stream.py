"""The WebSocket stream against the real service: every client gets every event, filters hold."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import pytest_asyncio
import websockets

from linkcast.core.errors import InvalidInput
from linkcast.core.events import STREAM_SINCE_HEADER
from linkcast.core.inputs import MAX_STREAM_FILTERS
from linkcast.hub import Hub
from linkcast.replay_budget import ReplayBudget
from linkcast.settings import Settings
from linkcast.store.memory import MemoryStore
from linkcast.web.stream import check_since_exists
from tests.support.service import Service, receive_until, terminal_for
from tests.support.site import LocalSite


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def handshakes(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Service]:
    """A service for tests of the handshake alone: they submit nothing, so its event log stays empty."""
    running = Service(store="memory://", log_path=tmp_path_factory.mktemp("handshakes") / "serve.log")
    await running.start()
    yield running
    running.stop()


async def refusal(service: Service, query: str) -> tuple[int, dict[str, Any]]:
    """The status and JSON error of a handshake the service must refuse."""
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with service.connect(query):
            pass
    response = refused.value.response
    return response.status_code, orjson.loads(response.body)["error"]


async def test_plain_http_to_the_stream_is_told_it_is_a_websocket(handshakes: Service) -> None:
    """A browser's address bar or a curl without the handshake: werkzeug's words said only that the request was not
    understood."""
    status, body = await handshakes.call("GET", "/scraped_urls?since=0")
    assert (status, body["error"]["code"]) == (400, "websocket_required"), body
    assert body["error"]["message"].startswith("/scraped_urls is a WebSocket: open it with a WebSocket client"), body


@pytest.mark.parametrize("path", ["/", "/healthz", "/urls/1"])
async def test_a_handshake_to_an_http_route_is_told_where_the_stream_is(handshakes: Service, path: str) -> None:
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with websockets.connect(f"ws://127.0.0.1:{handshakes.port}{path}"):
            pass
    response = refused.value.response
    error = orjson.loads(response.body)["error"]
    assert (response.status_code, error) == (
        400,
        {"code": "not_websocket", "message": f"{path} is not a WebSocket: the stream is /scraped_urls"},
    )


async def test_second_client_receives_every_result(service: Service, site: LocalSite) -> None:
    urls = {f"r{n}": site.page(f"/p{n}", f'<a href="/next{n}">n</a>') for n in range(5)}
    async with service.connect() as first, service.connect() as second:
        for request_id, url in urls.items():
            status, body = await service.put(request_id, url)
            assert status == 201, body
        for ws in (first, second):
            frames = await receive_until(ws, lambda fs: len(terminal_for(fs, set(urls))) == len(urls))
            results = terminal_for(frames, set(urls))
            assert {rid: r["links"] for rid, r in results.items()} == {
                rid: [site.url(f"/next{rid[1:]}")] for rid in urls
            }


async def test_request_id_filter_limits_the_stream(service: Service, site: LocalSite) -> None:
    wanted, other = site.page("/wanted", '<a href="/w">w</a>'), site.page("/other", '<a href="/o">o</a>')
    async with service.connect("request_id=mine") as ws:
        await service.put("theirs", other)
        await service.put("mine", wanted)
        frames = await receive_until(ws, lambda fs: bool(terminal_for(fs, {"mine"})))
    assert {f["request_id"] for f in frames} == {"mine"}
    assert terminal_for(frames, {"mine"})["mine"]["links"] == [site.url("/w")]


async def test_frames_are_not_deflated_unless_configured(service: Service) -> None:
    # The websockets client offers permessage-deflate; the server declines it by default (bench/README.md: deflating
    # every frame once per client halves fan-out), so the handshake answer names no extension.
    async with service.connect(compression="deflate") as ws:
        assert "Sec-WebSocket-Extensions" not in ws.response.headers


async def test_frames_are_deflated_when_configured(tmp_path: Path, site: LocalSite) -> None:
    """With compression on, frames take the ASGI send (web/frame_writer.py offers no direct writer): they arrive."""
    compressing = Service(
        "--websocket-compression", "--allow-private-networks", store="memory://", log_path=tmp_path / "serve.log"
    )
    await compressing.start()
    try:
        async with compressing.connect(compression="deflate") as ws, compressing.connect() as plain:
            assert "permessage-deflate" in ws.response.headers["Sec-WebSocket-Extensions"]
            status, body = await compressing.put("deflated", site.page("/deflated", '<a href="/d">d</a>'))
            assert status == 201, body
            for client in (ws, plain):
                frames = await receive_until(client, lambda fs: bool(terminal_for(fs, {"deflated"})))
                assert [f["type"] for f in frames] == ["accepted", "started", "result"]
                assert frames[-1]["links"] == [site.url("/d")]
    finally:
        compressing.stop()


@pytest.mark.parametrize(
    "since",
    ["%C2%B2", "%D9%A3", "%EF%BC%91", "1" * 20, "9" * 5000],
    ids=["superscript-two", "arabic-indic-three", "fullwidth-one", "20-digits", "5000-digits"],
)
async def test_since_that_is_not_a_bounded_ascii_number_is_a_400_not_a_500(handshakes: Service, since: str) -> None:
    status, error = await refusal(handshakes, f"since={since}")
    assert (status, error["code"]) == (400, "invalid_since"), error


async def test_since_past_the_newest_event_is_refused_and_says_so(handshakes: Service) -> None:
    status, error = await refusal(handshakes, "since=7")
    assert (status, error["code"]) == (400, "since_ahead")
    assert error["message"].startswith("since=7 is past the newest event (0)")


async def test_since_at_the_newest_event_is_accepted(handshakes: Service) -> None:
    async with handshakes.connect() as ws:
        newest = ws.response.headers[STREAM_SINCE_HEADER]
    async with handshakes.connect(f"since={newest}") as ws:
        assert ws.response.headers[STREAM_SINCE_HEADER] == newest


async def test_since_past_this_replica_but_not_past_the_log_is_accepted() -> None:
    """A replica's hub can lag the shared log, where a client may have seen newer events from another replica: only
    the store's newest id refuses. (A real store and hub; the lag is the hub not started, as if behind.)"""
    store = MemoryStore(Settings())
    await store.open()
    for n in range(3):
        await store.submit(f"r{n}", "https://example.com/")
    hub = Hub(store, queue_size=10, replay_budget=ReplayBudget(2**28, 2**23), queue_bytes=2**25)
    newest = await store.last_event_id()
    assert hub.position < newest
    await check_since_exists(newest, hub, store)
    with pytest.raises(InvalidInput) as refused:
        await check_since_exists(newest + 1, hub, store)
    assert refused.value.code == "since_ahead"


async def test_request_id_filters_are_bounded_per_connection(handshakes: Service) -> None:
    many = "&".join(f"request_id=r{n}" for n in range(MAX_STREAM_FILTERS + 1))
    status, error = await refusal(handshakes, many)
    assert (status, error["code"]) == (400, "too_many_filters")
    assert f"at most {MAX_STREAM_FILTERS}" in error["message"]
    enough = "&".join(f"request_id=r{n}" for n in range(MAX_STREAM_FILTERS))
    async with handshakes.connect(enough) as ws:
        await ws.ping()


@pytest.mark.parametrize("request_id", ["..", ".", "%2E%2E"])
async def test_a_dot_segment_request_id_filter_is_refused(handshakes: Service, request_id: str) -> None:
    status, error = await refusal(handshakes, f"request_id={request_id}")
    assert (status, error["code"]) == (400, "invalid_request_id")
