"""A replay that cannot be read is never a silent normal close: the client gets a ``stream_error`` frame that says
why, then close code 1011 (damaged data) or 1013 (the store is unreachable: try again later), and the server logs it."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from pathlib import Path

import aiohttp
import orjson
import pytest
import websockets

from linkcast.core.events import CLOSE_INTERNAL_ERROR, CLOSE_TRY_AGAIN_LATER
from tests.durability.conftest import serve
from tests.support.redis import RedisServer
from tests.support.service import Service
from tests.support.strict import require


async def frames_until_closed(service: Service, query: str) -> tuple[list[dict[str, object]], int, str]:
    """Every frame the stream sends for ``query``, and the close code and reason it ends with."""
    frames: list[dict[str, object]] = []
    async with service.connect(query) as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            async with asyncio.timeout(30):
                while True:
                    frames.append(orjson.loads(await ws.recv()))
    assert closed.value.rcvd is not None, "a close frame, not a dropped connection"
    return frames, closed.value.rcvd.code, closed.value.rcvd.reason


async def test_a_damaged_event_in_the_log_ends_the_replay_with_1011(tmp_path: Path) -> None:
    service = serve(tmp_path, "--workers", "0")
    await service.start()
    assert (await service.put("a", "https://example.com/"))[0] == 201
    service.stop()
    with sqlite3.connect(tmp_path / "linkcast.db") as database:  # bytes that are no JSON text: a damaged page
        database.execute(
            "INSERT INTO events (type, request_id, created_at, body) VALUES ('result', 'a', 0, ?)", (b"{\xff\xfe",)
        )
    await service.start()
    try:
        frames, code, reason = await frames_until_closed(service, "since=0")
    finally:
        service.stop()
    assert frames[-1]["type"] == "stream_error"  # after what could be read (the page with the damage: nothing)
    assert frames[-1]["error"]["code"] == "replay_failed"  # type: ignore[index]
    assert code == CLOSE_INTERNAL_ERROR and "since" in reason
    assert "a WebSocket replay failed" in (tmp_path / "serve.log").read_text()


async def test_a_replay_while_redis_is_down_ends_with_1013(tmp_path: Path) -> None:
    require(shutil.which("redis-server") is not None, "this test stops its own redis-server: none found")
    server = RedisServer()
    server.start()
    replica = Service("--workers", "0", store=server.url, log_path=tmp_path / "replica.log")
    try:
        await replica.start()
        assert (await replica.put("a", "https://example.com/"))[0] == 201
        server.stop()
        frames, code, _reason = await frames_until_closed(replica, "since=0")
        assert [f["type"] for f in frames] == ["stream_error"]
        assert frames[0]["error"]["code"] == "store_unavailable"  # type: ignore[index]
        assert code == CLOSE_TRY_AGAIN_LATER
        async with aiohttp.ClientSession() as session:
            for path in ("/", "/urls/a", "/healthz"):
                async with session.get(replica.base_url + path) as response:
                    assert response.status == 503, (path, response.status, await response.text())
    finally:
        replica.stop()
        server.remove()
