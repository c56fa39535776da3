"""A scaled-out deployment on loopback: ``linkcast worker`` processes, and WebSocket listeners that count events.

API replicas are ``tests.support.service.Service`` (``linkcast serve --workers 0``); this module adds the worker
process and a listener that records every frame a client receives.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import websockets

from tests.support.service import Service

STARTUP_TIMEOUT = 30.0
# server.run_workers logs this once its workers take jobs: the worker's readiness signal.
READY_LINE = b"workers running on"


class WorkerProcess:
    """One ``linkcast worker`` process; its log goes to ``log_path``."""

    def __init__(self, *flags: str, store: str, log_path: Path) -> None:
        self.command = [sys.executable, "-m", "linkcast", "worker", "--store", store, "--log-level", "info", *flags]
        self.log_path = log_path
        self.process: asyncio.subprocess.Process | None = None
        self._ready = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None
        self.lines: list[str] = []
        self._logged = asyncio.Condition()

    async def start(self) -> None:
        self.process = await asyncio.create_subprocess_exec(
            *self.command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE
        )
        self._reader = asyncio.create_task(self._copy_log())
        try:
            async with asyncio.timeout(STARTUP_TIMEOUT):
                await self._ready.wait()
        except TimeoutError:
            raise TimeoutError(
                f"linkcast worker was not ready within {STARTUP_TIMEOUT} s; see {self.log_path}"
            ) from None

    async def _copy_log(self) -> None:
        assert self.process is not None and self.process.stderr is not None
        with open(self.log_path, "ab") as log:
            async for line in self.process.stderr:
                log.write(line)
                if READY_LINE in line:
                    self._ready.set()
                self.lines.append(line.decode(errors="replace"))
                async with self._logged:
                    self._logged.notify_all()
        self._ready.set()  # exited before being ready: start() then finds it gone

    async def wait_log(self, text: str, timeout: float = 30.0) -> None:
        """Until the worker has logged a line containing ``text``."""
        try:
            async with asyncio.timeout(timeout), self._logged:
                await self._logged.wait_for(lambda: any(text in line for line in self.lines))
        except TimeoutError:
            raise AssertionError(f"the worker did not log {text!r} within {timeout} s; see {self.log_path}") from None

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)

    async def stop(self, timeout: float = 20.0) -> None:
        if self.process is None:
            return
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(timeout):
                    await self.process.wait()
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)


class Listener:
    """A WebSocket client of one replica that records every frame and counts terminal events per request."""

    def __init__(self, replica: Service, name: str) -> None:
        self.replica = replica
        self.name = name
        self.frames: list[dict[str, Any]] = []
        self.terminal: Counter[str] = Counter()
        self._changed = asyncio.Condition()
        self._task: asyncio.Task[None] | None = None
        self.connected = asyncio.Event()

    @property
    def last_id(self) -> int:
        ids = [frame["id"] for frame in self.frames if "id" in frame]
        return ids[-1] if ids else 0

    def connect(self, since: int | None = None) -> None:
        """Listen in the background until the connection closes (a replica going away) or ``close()``."""
        self.connected = asyncio.Event()
        self._task = asyncio.create_task(self._listen("" if since is None else f"since={since}"))

    async def _listen(self, query: str) -> None:
        with contextlib.suppress(websockets.ConnectionClosed):
            async with self.replica.connect(query) as ws:
                self.connected.set()
                async for raw in ws:
                    frame = orjson.loads(raw)
                    self.frames.append(frame)
                    if frame.get("type") in ("result", "error"):
                        self.terminal[frame["request_id"]] += 1
                    async with self._changed:
                        self._changed.notify_all()

    async def wait_connected(self, timeout: float = 10.0) -> None:
        async with asyncio.timeout(timeout):
            await self.connected.wait()

    async def wait_terminal(self, request_ids: set[str], count: int | None = None, timeout: float = 60.0) -> None:
        """Until terminal events of ``count`` (default: all) of ``request_ids`` have arrived."""
        wanted = len(request_ids) if count is None else count
        try:
            async with asyncio.timeout(timeout), self._changed:
                await self._changed.wait_for(lambda: len(request_ids & self.terminal.keys()) >= wanted)
        except TimeoutError:
            seen = len(request_ids & self.terminal.keys())
            raise AssertionError(f"{self.name}: {seen} of {wanted} terminal events after {timeout} s") from None

    async def closed(self, timeout: float = 30.0) -> None:
        """Until the server has closed this client's connection."""
        assert self._task is not None
        async with asyncio.timeout(timeout):
            await self._task

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
