"""The real ``linkcast`` command in a subprocess, and what every failure of it must look like: one line on stderr,
``linkcast: <code>: <message>``, a non-zero exit status, never a traceback."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys

import aiohttp

from tests.support.service import Service


def cli_env(env: dict[str, str] | None = None) -> dict[str, str]:
    """The test's environment without its own ``LINKCAST_*`` variables (a developer's LINKCAST_SERVER, say), plus
    ``env``: a test sees only the settings it gives."""
    inherited = {name: value for name, value in os.environ.items() if not name.startswith("LINKCAST_")}
    return {**inherited, **(env or {})}


async def start_cli(*args: str, env: dict[str, str] | None = None) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "linkcast", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=cli_env(env),
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
