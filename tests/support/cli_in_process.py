"""The ``linkcast`` command run in this process (``linkcast.cli.run``, what ``main`` runs before it exits), for
commands that end by themselves: the same parsing, calls and one-line errors as the subprocess, without its second
of start-up. What it writes is collected as the subprocess's would be (``tests.support.cli.error_line`` reads it)."""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys

from linkcast import cli


async def linkcast(*args: str, stdin: bytes = b"", timeout: float = 60.0) -> subprocess.CompletedProcess[bytes]:
    """Run ``linkcast *args`` on its own thread (it runs its own event loop) and collect its exit status and output."""
    return await asyncio.wait_for(asyncio.to_thread(_run_captured, list(args), stdin), timeout)


def _run_captured(args: list[str], stdin: bytes) -> subprocess.CompletedProcess[bytes]:
    stdout_bytes = io.BytesIO()
    stdout = io.TextIOWrapper(stdout_bytes, encoding="utf-8", write_through=True)  # with .buffer, as a real stdout
    stderr = io.StringIO()
    saved = sys.stdin, sys.stdout, sys.stderr
    sys.stdin, sys.stdout, sys.stderr = io.TextIOWrapper(io.BytesIO(stdin)), stdout, stderr
    try:
        status = cli.run(args)
    finally:
        sys.stdin, sys.stdout, sys.stderr = saved
    stdout.flush()
    return subprocess.CompletedProcess(args, status, stdout_bytes.getvalue(), stderr.getvalue().encode())
