"""Fan-out references: frames/s a bare ``websockets`` server reaches, and what idle WebSocket clients cost in RSS."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from tests.support.ports import free_port

from bench.driver import Clients, frame_head
from bench.processes import PYTHON, Process
from bench.services import RunningService, ServiceSpec

CONNECT_BATCH = 100  # clients connected at once, so the listen backlog never overflows


@dataclass
class BareRun:
    clients: int
    frames: int
    seconds: float
    complete: bool
    cpu_seconds: float  # the server's

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0

    @property
    def cpu_us_per_frame(self) -> float:
        return self.cpu_seconds * 1e6 / self.frames if self.frames else 0.0


async def measure_bare_broadcast(
    frames: Sequence[str], client_counts: Sequence[int], logdir: Path, timeout: float = 300.0
) -> list[BareRun]:
    """For each client count, a fresh bare server broadcasting ``frames`` to that many clients."""
    terminal_ids = [rid for kind, rid in map(frame_head, frames) if kind in ("result", "error")]
    runs = []
    for count in client_counts:
        async with (
            bare_server(frames, logdir) as (server, url),
            aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session,
        ):
            clients = await Clients.connect(session, url, count)
            try:
                clients.expect(terminal_ids, every_client=True)
                began, cpu = time.monotonic(), server.cpu_seconds()
                await clients.sockets[0].send_str("go")
                complete = await clients.wait_delivered(timeout)
                elapsed, cpu = time.monotonic() - began, server.cpu_seconds() - cpu
                runs.append(BareRun(count, clients.frames, elapsed, complete, cpu))
            finally:
                await clients.close()
    return runs


@contextlib.asynccontextmanager
async def bare_server(frames: Sequence[str], logdir: Path) -> AsyncIterator[tuple[Process, str]]:
    """A bare ``websockets`` server (``bench/bare_ws.py``) that broadcasts ``frames`` once a client says "go"; yields
    the process and its WebSocket URL once it accepts connections."""
    frames_file = logdir / "bare-frames.jsonl"
    frames_file.write_text("\n".join(frames))
    port = free_port()
    command = [PYTHON, "-m", "bench.bare_ws", "--port", str(port), "--frames", str(frames_file)]
    server = Process("bare-websockets", command, logdir / "bare_ws.log").start()
    try:
        await server.ready_tcp(port)
        yield server, f"ws://127.0.0.1:{port}/"
    finally:
        server.stop()


@dataclass
class IdleCost:
    clients: int
    connected: int
    rss_before: int
    rss_after: int

    @property
    def cost(self) -> int:
        return self.rss_after - self.rss_before


async def connect_idle(
    session: aiohttp.ClientSession, ws_url: str, count: int
) -> list[aiohttp.ClientWebSocketResponse]:
    sockets: list[aiohttp.ClientWebSocketResponse] = []
    for start in range(0, count, CONNECT_BATCH):
        batch = min(CONNECT_BATCH, count - start)
        sockets += await asyncio.gather(*(session.ws_connect(ws_url, compress=0) for _ in range(batch)))
    return sockets


async def idle_cost(process: Process, ws_url: str, count: int, settle: float = 1.0) -> IdleCost:
    """RSS of ``process`` before and after ``count`` clients connect and stay idle."""
    rss_before = process.rss()
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        sockets = await connect_idle(session, ws_url, count)
        try:
            # Let the server finish setting up every connection (its per-client tasks start after the handshake).
            await asyncio.sleep(settle)
            connected = sum(1 for ws in sockets if not ws.closed)
            rss_after = process.rss()
        finally:
            await asyncio.gather(*(ws.close() for ws in sockets), return_exceptions=True)
    return IdleCost(count, connected, rss_before, rss_after)


async def measure_idle_service(spec: ServiceSpec, count: int, logdir: Path) -> IdleCost:
    async with RunningService(spec, logdir) as service:
        return await idle_cost(service.process, service.ws_url, count)


async def measure_idle_bare(count: int, logdir: Path) -> IdleCost:
    async with bare_server([], logdir) as (server, url):
        return await idle_cost(server, url, count)
