"""The direct frame path: frames built once (``frames.py``) and written by uvicorn's protocol (``frame_writer.py``).

Checked on real sockets with a tiny ASGI app under uvicorn, and with the websockets library as the client.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
import websockets
from uvicorn.protocols.utils import ClientDisconnected
from wsproto.frame_protocol import FrameProtocol, Opcode

from linkcast.frames import Frame, websocket_text_message
from linkcast.web.frame_writer import FRAME_WRITER, REQUIRED_INTERNALS, FrameWriterProtocol
from tests.support.ports import free_port

# Around each length-encoding boundary of RFC 6455: 7-bit, 16-bit and 64-bit lengths.
LENGTHS = [0, 1, 125, 126, 127, 65_535, 65_536, 200_000]


@pytest.mark.parametrize("text", [*("x" * length for length in LENGTHS), "é ü 日本 🙂"])
def test_a_text_message_parses_back_as_one_final_text_frame(text: str) -> None:
    client = FrameProtocol(client=True, extensions=[])
    client.receive_bytes(websocket_text_message(text))
    frames = list(client.received_frames())
    assert len(frames) == 1
    assert frames[0].opcode is Opcode.TEXT
    assert frames[0].frame_finished and frames[0].message_finished
    assert frames[0].payload == text


def test_a_frame_is_built_once_and_shared() -> None:
    frame = Frame(7, '{"id":7}')
    assert frame.wire is frame.wire
    assert frame.wire == websocket_text_message('{"id":7}')


class FrameApp:
    """Answers every WebSocket with what it found in the scope, then sends the frames it was built with."""

    def __init__(self, texts: list[str]) -> None:
        self.texts = texts
        self.after_disconnect: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "websocket":
            return
        await receive()  # websocket.connect
        await send({"type": "websocket.accept"})
        writer = scope["extensions"].get(FRAME_WRITER)
        if writer is None:
            await send({"type": "websocket.send", "text": "no writer"})
            await send({"type": "websocket.close", "code": 1000})
            return
        await writer.write(b"".join(Frame(n, text).wire for n, text in enumerate(self.texts, 1)))
        message = await receive()  # the client closes once it has every frame
        assert message["type"] == "websocket.disconnect"
        try:
            await writer.write(Frame(0, "too late").wire)
        except ClientDisconnected as error:
            self.after_disconnect.set_result(error)
        else:
            self.after_disconnect.set_result(None)


@contextlib.asynccontextmanager
async def running(
    app: FrameApp, *, compression: bool, protocol: type[FrameWriterProtocol] = FrameWriterProtocol
) -> AsyncIterator[str]:
    port = free_port()
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        ws=protocol,
        ws_per_message_deflate=compression,
        lifespan="off",
        log_level="warning",
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(10):
            while not server.started:
                await asyncio.sleep(0.01)
        yield f"ws://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)


async def test_frames_written_together_arrive_as_separate_messages_in_order() -> None:
    texts = ['{"id":1}', "ü" * 70_000, "", '{"id":4,"links":["https://example.com/"]}']
    app = FrameApp(texts)
    async with running(app, compression=False) as url, websockets.connect(url, max_size=None) as client:
        received = [await asyncio.wait_for(client.recv(), 10) for _ in texts]
    assert received == texts
    # A write after the client went away says so, instead of writing into a closed socket.
    assert isinstance(await asyncio.wait_for(app.after_disconnect, 10), ClientDisconnected)


async def test_no_writer_when_compression_is_on() -> None:
    """Compressed frames must go through wsproto's compressor: the app falls back to the ASGI send."""
    async with (
        running(FrameApp(["unused"]), compression=True) as url,
        websockets.connect(url, compression="deflate") as client,
    ):
        assert await asyncio.wait_for(client.recv(), 10) == "no writer"


class ProtocolOfAnotherUvicorn(FrameWriterProtocol):
    """As the protocol of a uvicorn release that lacks an attribute the writer reads."""

    required_internals = (*REQUIRED_INTERNALS, "an_attribute_this_uvicorn_lacks")


async def test_no_writer_when_uvicorn_lacks_what_it_needs(caplog: pytest.LogCaptureFixture) -> None:
    async with (
        running(FrameApp(["unused"]), compression=False, protocol=ProtocolOfAnotherUvicorn) as url,
        websockets.connect(url) as client,
    ):
        assert await asyncio.wait_for(client.recv(), 10) == "no writer"
    assert "an_attribute_this_uvicorn_lacks" in caplog.text
