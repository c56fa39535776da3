"""Large answers are sent within one budget of the process's memory, so that clients that ask and never read cannot
make the server hold an answer each (``web/answer_memory.py``)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import orjson
import pytest

from tests.support.memory import memory_bytes
from tests.support.service import Service, receive_until, terminal_for
from tests.support.site import LocalSite

LINKS = 50_000  # about 4 MiB of links in the answer
NOT_READING = 40
BUDGET = 4 * 1024 * 1024


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[Service]:
    running = Service(
        "--allow-private-networks", "--answer-memory-bytes", str(BUDGET),
        store=f"sqlite:///{tmp_path}/linkcast.db", log_path=tmp_path / "serve.log",
    )  # fmt: skip
    await running.start()
    yield running
    running.stop()


async def ask_and_stop_reading(service: Service, path: str) -> tuple[int, socket.socket]:
    """GET ``path`` on a connection with a tiny receive buffer, read the answer's status line, and read no more."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, ("127.0.0.1", service.port))
    await loop.sock_sendall(sock, f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    head = await loop.sock_recv(sock, 64)
    return int(head.split()[1]), sock


async def test_clients_that_never_read_large_answers_hold_no_more_than_the_budget(
    service: Service, site: LocalSite
) -> None:
    url = site.page("/many", "".join(f'<a href="/{n:06}/{"x" * 60}">l</a>' for n in range(LINKS)))
    async with service.connect() as ws:
        await service.put("big", url)
        await receive_until(ws, lambda frames: "big" in terminal_for(frames, {"big"}), 60)
    status, whole = await service.call("GET", "/urls/big")
    assert status == 200 and len(whole["links"]) == LINKS  # a large answer is sent whole, in pieces
    assert service.process is not None
    before = memory_bytes(service.process.pid, "VmRSS")

    async with asyncio.timeout(60):
        asked = [await ask_and_stop_reading(service, "/urls/big") for _ in range(NOT_READING)]
    try:
        # 40 answers of 4 MiB were held until their connections ended (160 MiB); now the budget's worth at most.
        grown = memory_bytes(service.process.pid, "VmRSS") - before
        assert grown < 64 * 1024 * 1024, f"{grown / 2**20:.0f} MiB held for clients that do not read"
        statuses = [status for status, _ in asked]
        assert set(statuses) <= {200, 503} and statuses.count(503) >= NOT_READING - 2
        async with aiohttp.ClientSession() as session, session.get(f"{service.base_url}/urls/big") as response:
            assert response.status == 503 and response.headers["Retry-After"] == "1"
            assert orjson.loads(await response.read())["error"]["code"] == "busy"
    finally:
        for _, sock in asked:
            sock.close()
    # Their shares come back with their connections.
    async with asyncio.timeout(10):
        while (answer := await service.call("GET", "/urls/big"))[0] == 503:
            await asyncio.sleep(0.1)
    assert answer == (200, whole)
