"""The real ``linkcast`` command in a subprocess (on pipes, or on a pseudo-terminal), and what every failure of it must
look like: one line on stderr, ``linkcast: <code>: <message>``, a non-zero exit status, never a traceback."""

from __future__ import annotations

import asyncio
import fcntl
import os
import struct
import subprocess
import sys
import termios

import aiohttp

from tests.support.service import Service


def cli_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The test's environment without its own ``LINKCAST_*`` variables (a developer's LINKCAST_SERVER, say), plus
    ``env``: a test sees only the settings it gives."""
    inherited = {name: value for name, value in os.environ.items() if not name.startswith("LINKCAST_")}
    return {**inherited, **(env or {})}


async def start_cli(*args: str, env: dict[str, str] | None = None) -> asyncio.subprocess.Process:
    """The CLI on pipes, its stdin empty: never the terminal pytest may run on, which would make it a person's."""
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "linkcast", *args,
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        env=cli_env(env),
    )  # fmt: skip


async def finish(process: asyncio.subprocess.Process, timeout: float = 60.0) -> subprocess.CompletedProcess[bytes]:
    """Wait for ``process`` to exit (killed past ``timeout``) and collect what it wrote."""
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return subprocess.CompletedProcess([], process.returncode, stdout, stderr)


async def run_cli(
    *args: str, timeout: float = 60.0, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[bytes]:
    return await finish(await start_cli(*args, env=env), timeout)


def error_line(done: subprocess.CompletedProcess[bytes], code: str, status: int) -> str:
    """Assert that the command failed as every CLI failure must; return the message of its one line."""
    stderr = done.stderr.decode()
    assert "Traceback" not in stderr, stderr
    assert done.returncode == status, (done.returncode, stderr)
    lines = stderr.splitlines()
    assert len(lines) == 1, lines
    prefix = f"linkcast: {code}: "
    assert lines[0].startswith(prefix), lines
    return lines[0].removeprefix(prefix)


async def clients_connected(service: Service, count: int, timeout: float = 10.0) -> None:
    """Wait until the service counts ``count`` WebSocket clients (a CLI says nothing when it connects)."""
    async with aiohttp.ClientSession() as session, asyncio.timeout(timeout):
        while True:
            async with session.get(f"{service.base_url}/metrics") as response:
                if f"linkcast_websocket_clients {count:.1f}" in await response.text():
                    return
            await asyncio.sleep(0.05)


class Terminal:
    """The CLI on a pseudo-terminal (stdin, stdout and stderr), as a person at a terminal runs it: what it writes is
    read as it comes, and ``type`` answers its questions."""

    def __init__(self, process: asyncio.subprocess.Process, master: int) -> None:
        self.process = process
        self.master = master
        self.output = b""
        self.closed = asyncio.Event()
        self._changed = asyncio.Event()
        asyncio.get_running_loop().add_reader(master, self._read)

    @classmethod
    async def start(cls, *args: str, columns: int = 120, rows: int = 40) -> Terminal:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "linkcast", *args,
                stdin=slave, stdout=slave, stderr=slave, env=cli_env({"TERM": "xterm-256color"}),
            )  # fmt: skip
        finally:
            os.close(slave)
        return cls(process, master)

    @property
    def text(self) -> str:
        return self.output.decode(errors="replace")

    def _read(self) -> None:
        try:
            data = os.read(self.master, 65536)
        except OSError:  # EIO: every end of the terminal on the CLI's side is closed
            data = b""
        if not data:
            asyncio.get_running_loop().remove_reader(self.master)
            self.closed.set()
        self.output += data
        self._changed.set()

    async def wait_for(self, text: str, timeout: float = 30.0) -> None:
        """Until the terminal shows ``text``."""
        async with asyncio.timeout(timeout):
            while text not in self.text:
                assert not self.closed.is_set(), f"the CLI exited without writing {text!r}: {self.text}"
                self._changed.clear()
                await self._changed.wait()

    def type(self, text: str) -> None:
        os.write(self.master, text.encode())

    async def finish(self, timeout: float = 30.0) -> int:
        """Wait for the CLI to exit (killed past ``timeout``) and for the last of what it wrote; its exit status."""
        try:
            async with asyncio.timeout(timeout):
                status = await self.process.wait()
                await self.closed.wait()
        finally:
            await self.close()
        return status

    async def close(self) -> None:
        """Kill the CLI if it still runs, and close the terminal (once)."""
        if self.process.returncode is None:
            self.process.kill()
            await asyncio.wait_for(self.process.wait(), 10)
        if self.master < 0:
            return
        if not self.closed.is_set():
            asyncio.get_running_loop().remove_reader(self.master)
            self.closed.set()
        os.close(self.master)
        self.master = -1
