"""Replays to clients that stop reading hold what the replay budget counts: each page once, in the socket's buffer, not
also as the text and frames it was made of (``hub.replay``, ``web/stream.py``)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.memory import memory_bytes
from tests.support.service import Service, receive_until, terminal_for
from tests.support.site import LocalSite

RESULTS = 12  # of about 2 MiB of links each: a replay page each
LINKS = 25_000
MAX_RESULT = 2 * 1024 * 1024
# A page's share is 1 MiB + the largest result + 64 KiB: this budget lets 41 replays hold a page each at once.
BUDGET = 128 * 1024 * 1024
REPLAYS = 40
HANDSHAKE = (
    "GET /scraped_urls?since=0 HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n"
)


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[Service]:
    running = Service(
        "--allow-private-networks", "--replay-memory-bytes", str(BUDGET), "--max-result-bytes", str(MAX_RESULT),
        "--rate-limit", "0", store=f"sqlite:///{tmp_path}/linkcast.db", log_path=tmp_path / "serve.log",
    )  # fmt: skip
    await running.start()
    yield running
    running.stop()


async def replay_and_stop_reading(service: Service) -> socket.socket:
    """A WebSocket replaying from 0 that reads the answer to its handshake and a byte of the replay, then no more."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, ("127.0.0.1", service.port))
    await loop.sock_sendall(sock, HANDSHAKE.encode())
    received = b""
    while b"\r\n\r\n" not in received or received.endswith(b"\r\n\r\n"):  # the answer, and a byte of a frame
        received += await loop.sock_recv(sock, 1024)
        assert received, "closed"
    assert received.startswith(b"HTTP/1.1 101")
    return sock


async def test_clients_that_stop_reading_a_replay_hold_a_page_each_once(service: Service, site: LocalSite) -> None:
    url = site.page("/many", "".join(f'<a href="/{n:06}/{"x" * 60}">l</a>' for n in range(LINKS)))
    requests = {f"big{n}" for n in range(RESULTS)}
    async with service.connect() as ws:
        for request_id in requests:
            await service.put(request_id, url)
        await receive_until(ws, lambda frames: len(terminal_for(frames, requests)) == RESULTS, 60)
    assert service.process is not None
    before = memory_bytes(service.process.pid, "VmRSS")
    replays: list[socket.socket] = []
    try:
        async with asyncio.timeout(60):
            for _ in range(REPLAYS):
                replays.append(await replay_and_stop_reading(service))
        grown = memory_bytes(service.process.pid, "VmRSS") - before
        # 40 first pages (a result each): some 64 MiB in the sockets' buffers. Also held as text and frames: 144 MiB.
        assert grown < 100 * 1024 * 1024, f"{grown / 2**20:.0f} MiB held for {REPLAYS} replays"
    finally:
        for sock in replays:
            sock.close()
