"""A client that stops reading is dropped with close code 4008; the others get every event; the server stays up."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
import websockets

from linkcast.core.events import CLOSE_TOO_SLOW
from tests.durability.conftest import ids_of, put_all, serve
from tests.support.service import Service, receive_until, terminal_for
from tests.support.site import LocalSite

REQUESTS = 1667  # x3 events (accepted, started, result): 5,001 events


async def connect_stalled(service: Service) -> Any:
    """A client that will not read: a tiny receive buffer, and its library stops reading after one message."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", service.port))
    # No compression: repetitive frames would otherwise shrink enough to fit in the socket buffers.
    return await websockets.connect(
        service.ws_url, sock=sock, max_queue=1, max_size=None, open_timeout=10, compression=None
    )


def big_page() -> str:
    """About 10 KB of result per request, so that 5,000 events outgrow every buffer between server and client."""
    return "".join(f'<a href="/link/{n}/{"x" * 40}">l</a>' for n in range(150))


async def test_stalled_client_is_dropped_and_healthy_client_gets_every_event(durable: Service, site: LocalSite) -> None:
    url = site.page("/big", big_page())
    requests = {f"e{n}": url for n in range(REQUESTS)}
    stalled = await connect_stalled(durable)
    try:
        async with durable.connect() as healthy:
            publishing = asyncio.create_task(put_all(durable, requests))
            frames = await receive_until(healthy, lambda fs: len(terminal_for(fs, set(requests))) == REQUESTS, 90)
            await publishing
        ids = ids_of(frames)
        assert len(ids) == 3 * REQUESTS
        assert ids == list(range(ids[0], ids[0] + len(ids))), "the healthy client got every event, in order"

        # Now the stalled client reads: what the socket buffers held, then the close frame that says why.
        received = 0
        with pytest.raises(websockets.ConnectionClosed) as closed:
            try:
                async with asyncio.timeout(30):
                    while True:
                        await stalled.recv()
                        received += 1
            except TimeoutError:
                pytest.fail(f"no close frame within 30 s, after {received} frames")
        assert closed.value.rcvd is not None, "a close frame, not a dropped connection"
        assert closed.value.rcvd.code == CLOSE_TOO_SLOW
        assert "too slow" in closed.value.rcvd.reason
        assert received < 3 * REQUESTS, "it was cut off, not served everything"
    finally:
        await stalled.close()
    async with aiohttp.ClientSession() as session, session.get(f"{durable.base_url}/metrics") as response:
        assert "linkcast_slow_clients_dropped_total 1.0" in await response.text()


async def test_a_stalled_client_is_dropped_once_its_queue_holds_too_many_bytes_whatever_their_count(
    tmp_path: Path, site: LocalSite
) -> None:
    """A result may hold 8 MiB of links: 1,024 of them waiting for one client that does not read were 8 GiB (40 held
    367 MiB). Past --client-queue-bytes of waiting events the client is dropped, however few they are."""
    links = "".join(f'<a href="/link/{n}/{"x" * 70}">l</a>' for n in range(12_000))  # a result of about 1 MiB
    url = site.page("/large", links)
    requests = {f"big{n}": url for n in range(30)}  # far fewer events than --client-queue-size (1,024)
    service = serve(tmp_path, "--client-queue-bytes", str(4 * 1024 * 1024))
    await service.start()
    try:
        stalled = await connect_stalled(service)
        try:
            async with service.connect() as healthy:
                publishing = asyncio.create_task(put_all(service, requests))
                await receive_until(healthy, lambda fs: len(terminal_for(fs, set(requests))) == len(requests), 60)
                await publishing
            results = 0
            with pytest.raises(websockets.ConnectionClosed) as closed:
                try:
                    async with asyncio.timeout(15):
                        while True:
                            results += orjson.loads(await stalled.recv()).get("type") == "result"
                except TimeoutError:
                    pytest.fail(f"no close frame within 15 s, after {results} results")
            assert closed.value.rcvd is not None and closed.value.rcvd.code == CLOSE_TOO_SLOW
            assert results < len(requests)
        finally:
            await stalled.close()
    finally:
        service.stop()
