"""The real service, run as ``linkcast serve`` in a subprocess on a free loopback port."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import psutil
import websockets

from tests.support.ports import free_port, port_taken

STARTUP_TIMEOUT = 30.0
PORT_ATTEMPTS = 3


class Service:
    """One ``linkcast serve`` process; ``restart()`` keeps its port and store."""

    def __init__(self, *flags: str, store: str, env: dict[str, str] | None = None, log_path: Path | None = None):
        self.port = free_port()
        self.store = store
        self.flags = list(flags)
        self.env = {**os.environ, **(env or {})}
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/scraped_urls"

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "linkcast", "serve",
            "--host", "127.0.0.1", "--port", str(self.port), "--store", self.store, "--log-level", "warning",
            *self.flags,
        ]  # fmt: skip

    async def start(self) -> None:
        first_start = self.process is None
        for attempt in range(PORT_ATTEMPTS):
            log = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
            self.process = subprocess.Popen(self.command(), env=self.env, stdout=log, stderr=log)
            try:
                await self.wait_healthy()
                return
            except RuntimeError:
                # free_port() cannot hold the port until the service binds it: another test's server (the suite runs
                # in parallel) may take it first. A first start, which nobody has been told the port of, takes
                # another; a restart must keep its port, and any other failure is the test's to see.
                if not first_start or attempt == PORT_ATTEMPTS - 1 or not port_taken(self.port):
                    raise
                self.port = free_port()

    def _listens(self) -> bool:
        """Whether this service's own process listens on its port."""
        assert self.process is not None
        try:
            sockets = psutil.Process(self.process.pid).net_connections(kind="tcp")
        except psutil.Error:
            return False
        return any(s.status == psutil.CONN_LISTEN and s.laddr and s.laddr.port == self.port for s in sockets)

    async def wait_healthy(self, timeout: float = STARTUP_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                assert self.process is not None
                if self.process.poll() is not None:
                    raise RuntimeError(f"linkcast serve exited with {self.process.returncode}: {self.command()}")
                try:
                    async with session.get(f"{self.base_url}/healthz", timeout=aiohttp.ClientTimeout(total=2)) as r:
                        # Another test's server may have taken the port between free_port() and this process's
                        # bind, and answer for it: only this process listening there is this service up.
                        if r.status == 200 and self._listens():
                            return
                except (aiohttp.ClientError, TimeoutError):
                    pass
                await asyncio.sleep(0.05)
        raise TimeoutError(f"linkcast serve did not become healthy within {timeout} s")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Send ``sig`` and wait for the process to end (SIGKILL if it outlives ``timeout``)."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(5)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    async def restart(self) -> None:
        self.stop()
        await self.start()

    async def put(self, request_id: str, url: str, session: aiohttp.ClientSession | None = None) -> tuple[int, Any]:
        """PUT /urls/<id>; returns (status, JSON body)."""
        return await self.call("PUT", f"/urls/{request_id}", json={"url": url}, session=session)

    async def call(
        self, method: str, path: str, *, session: aiohttp.ClientSession | None = None, **kwargs: Any
    ) -> tuple[int, Any]:
        own = session is None
        session = session or aiohttp.ClientSession()
        try:
            async with session.request(
                method, self.base_url + path, timeout=aiohttp.ClientTimeout(total=10), **kwargs
            ) as r:
                raw = await r.read()
                return r.status, orjson.loads(raw) if raw else None
        finally:
            if own:
                await session.close()

    def connect(self, query: str = "", **kwargs: Any) -> Any:
        """A WebSocket client on /scraped_urls (use with ``async with``)."""
        url = self.ws_url + (f"?{query}" if query else "")
        return websockets.connect(url, open_timeout=10, max_size=None, **kwargs)


async def receive_until(
    ws: Any, done: Callable[[list[dict[str, Any]]], bool], timeout: float = 30.0
) -> list[dict[str, Any]]:
    """Receive frames until ``done(frames)`` holds; fail after ``timeout`` seconds."""
    frames: list[dict[str, Any]] = []
    async with asyncio.timeout(timeout):
        while not done(frames):
            frames.append(orjson.loads(await ws.recv()))
    return frames


async def slowest_health_check(service: Service, busy: asyncio.Future[Any], session: aiohttp.ClientSession) -> float:
    """The longest ``/healthz`` took, asked every 50 ms until ``busy`` is done: how long the service's event loop was
    held by the work ``busy`` waits for. The work the tests give takes 2-4 s, all of which a frozen loop shows; a
    loop that is given back answers in milliseconds, up to 1.3 s seen on a machine at load 6, so they allow 1.5 s."""
    loop = asyncio.get_running_loop()
    slowest = 0.0
    while not busy.done():
        began = loop.time()
        status, _ = await service.call("GET", "/healthz", session=session)
        assert status == 200
        slowest = max(slowest, loop.time() - began)
        await asyncio.sleep(0.05)
    return slowest


def terminal_for(frames: list[dict[str, Any]], request_ids: set[str]) -> dict[str, dict[str, Any]]:
    """The terminal event of each request among ``frames``."""
    return {
        f["request_id"]: f for f in frames if f.get("type") in ("result", "error") and f["request_id"] in request_ids
    }
