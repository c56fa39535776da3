"""Endpoints that never answer cannot make the process hold a large payload per delivery in flight: large payloads
are held within one budget (``webhooks/payload_memory.py``), and an outbox is read a megabyte at a time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.memory import memory_bytes
from tests.support.service import Service, receive_until, terminal_for
from tests.support.site import LocalSite

ENDPOINTS = 20
RESULTS = 4  # of about 2 MiB of links each
LINKS = 25_000


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[Service]:
    running = Service(
        "--allow-private-networks", "--webhook-memory-bytes", str(8 * 1024 * 1024), "--webhook-timeout", "1",
        "--rate-limit", "0", store=f"sqlite:///{tmp_path}/linkcast.db", log_path=tmp_path / "serve.log",
    )  # fmt: skip
    await running.start()
    yield running
    running.stop()


async def never_answering_ports(count: int) -> tuple[list[asyncio.Server], list[asyncio.StreamWriter]]:
    """Servers that take a connection and never read from it nor answer (until the test closes them)."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    servers = [await asyncio.start_server(hold, "127.0.0.1", 0) for _ in range(count)]
    return servers, held


async def test_endpoints_that_never_answer_hold_large_payloads_within_the_budget(
    service: Service, site: LocalSite
) -> None:
    url = site.page("/many", "".join(f'<a href="/{n:06}/{"x" * 60}">l</a>' for n in range(LINKS)))
    servers, held = await never_answering_ports(ENDPOINTS)
    try:
        for n, server in enumerate(servers):
            port = server.sockets[0].getsockname()[1]
            status, _ = await service.call("PUT", f"/webhooks/w{n}", json={"url": f"http://127.0.0.1:{port}/"})
            assert status == 201
        assert service.process is not None
        before = memory_bytes(service.process.pid, "VmRSS")
        requests = {f"big{n}" for n in range(RESULTS)}
        async with service.connect() as ws:
            for request_id in requests:
                await service.put(request_id, url)
            await receive_until(ws, lambda frames: len(terminal_for(frames, requests)) == RESULTS, 60)
        # Every endpoint has tried (and failed) to take its first delivery: the runs have held what they held.
        async with asyncio.timeout(60):
            while True:
                _, listing = await service.call("GET", "/webhooks?limit=100")
                if all(endpoint["failed"] + endpoint["delivered"] > 0 or endpoint["last_error"]
                       for endpoint in listing["webhooks"]):  # fmt: skip
                    break
                await asyncio.sleep(0.2)
        grown = memory_bytes(service.process.pid, "VmHWM") - before
        # 20 runs held their outboxes (4 results of 2 MiB) and the bodies they sent: some 300 MiB over the 50 MiB the
        # results themselves take; within the budget, some 50 MiB.
        assert grown < 180 * 1024 * 1024, f"the peak grew by {grown / 2**20:.0f} MiB"
    finally:
        for writer in held:
            writer.close()
        for server in servers:
            server.close()
