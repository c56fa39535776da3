"""The processes a bench run starts: each system under test, the site, the bare WebSocket server.

Every process binds 127.0.0.1 only, on a port from ``tests.support.ports.free_port`` (below the ephemeral range, as
the tests' servers do). Memory is read from the kernel: ``VmRSS`` now and ``VmHWM`` (the peak resident set size since
the process started), so a fresh process per measured run gives that run's peak.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import aiohttp
import psutil
from tests.support.memory import memory_bytes

PYTHON = sys.executable
ROOT = Path(__file__).resolve().parent.parent


def cpu_seconds(pid: int) -> float:
    """CPU seconds (user + system) of ``pid`` and its live descendants; 0 once it is gone."""
    try:
        process = psutil.Process(pid)
        total = 0.0
        for member in (process, *process.children(recursive=True)):
            with contextlib.suppress(psutil.Error):
                times = member.cpu_times()
                total += times.user + times.system
        return total
    except psutil.Error:
        return 0.0


class Process:
    """One child process with a name, its output in ``log``; ``ready()`` waits until it answers."""

    def __init__(self, name: str, command: Sequence[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.name = name
        self.command = list(command)
        self.log = log
        self.env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
        self.popen: subprocess.Popen[bytes] | None = None

    def start(self) -> Process:
        with open(self.log, "ab") as out:
            self.popen = subprocess.Popen(self.command, stdout=out, stderr=out, env=self.env, cwd=ROOT)
        return self

    @property
    def pid(self) -> int:
        assert self.popen is not None
        return self.popen.pid

    def check_alive(self) -> None:
        assert self.popen is not None
        if self.popen.poll() is not None:
            tail = self.log.read_text(errors="replace")[-2000:] if self.log.exists() else ""
            raise RuntimeError(f"{self.name} exited with {self.popen.returncode}:\n{tail}")

    async def ready_http(self, url: str, timeout: float = 30.0) -> None:
        """Wait until ``url`` answers 200."""
        deadline = time.monotonic() + timeout
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                self.check_alive()
                try:
                    async with session.get(url, timeout=aiohttp.ClientTimeout(total=2)) as response:
                        if response.status == 200:
                            return
                except (aiohttp.ClientError, TimeoutError):
                    pass
                await asyncio.sleep(0.05)
        raise TimeoutError(f"{self.name} did not answer {url} within {timeout} s")

    async def ready_tcp(self, port: int, timeout: float = 30.0) -> None:
        """Wait until something accepts connections on ``port``."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                _reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.close()
                return
            except OSError:
                await asyncio.sleep(0.05)
        raise TimeoutError(f"{self.name} did not listen on {port} within {timeout} s")

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the process and its live children (extraction processes)."""
        return cpu_seconds(self.pid)

    def thread_cpu(self) -> dict[int, float]:
        """CPU seconds per thread id of the process (the first is the main thread)."""
        try:
            return {t.id: t.user_time + t.system_time for t in psutil.Process(self.pid).threads()}
        except psutil.Error:
            return {}

    def peak_rss(self) -> int:
        return memory_bytes(self.pid, "VmHWM")

    def rss(self) -> int:
        return memory_bytes(self.pid, "VmRSS")

    def stop(self, timeout: float = 20.0) -> None:
        if self.popen is None or self.popen.poll() is not None:
            return
        self.popen.send_signal(signal.SIGTERM)
        try:
            self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            self.popen.kill()
            self.popen.wait(5)
