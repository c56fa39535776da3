"""The WebSocket stream against the real service: every client gets every event, filters hold."""

from __future__ import annotations

from pathlib import Path

from tests.support.service import Service, receive_until, terminal_for
from tests.support.site import LocalSite


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
