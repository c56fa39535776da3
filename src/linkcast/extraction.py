"""Link extraction off the event loop: small pages inline, the rest in child processes with a deadline.

Why processes, not threads: selectolax releases the GIL while lexbor parses, so a thread would keep the event loop
free, but a thread cannot be stopped. HTML tree building is quadratic in nesting depth (each start tag scans the
stack of open elements, as the standard says; browsers cap the depth at 512, lexbor does not): 100,000 nested
``<div>`` (1.2 MB) take about a minute, and 50,000 (250 KB) several seconds. A child process past its deadline is
killed and replaced, and the request fails with ``too_complex``; a child that crashes fails one request, never the
worker. Below ``INLINE_MAX_BYTES`` the worst case is a few tens of milliseconds, cheaper than the hand-off.
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any

from linkcast.core.errors import FetchError
from linkcast.core.links import extract_links

# The worst page of this size (about 6,500 nested elements) parses in well under 0.1 s.
INLINE_MAX_BYTES = 32 * 1024

Args = tuple[bytes, str, str | None]


def _serve(conn: Connection) -> None:
    """A child's loop: extract the links of each page it is sent, until its parent closes the pipe."""
    while True:
        try:
            args: Args = conn.recv()
        except EOFError:
            return
        try:
            conn.send((True, extract_links(*args)))
        except Exception as error:
            conn.send((False, f"{type(error).__name__}: {error}"))


class ExtractionFailed(FetchError):
    """The extraction itself raised (in a healthy child)."""


class _Child:
    """One child process and the parent's end of its pipe; ``call`` blocks, so it runs in a thread."""

    def __init__(self, context: Any) -> None:
        self.conn, child_end = context.Pipe()
        self.process = context.Process(target=_serve, args=(child_end,), daemon=True, name="linkcast-extract")
        self.process.start()
        child_end.close()

    def call(self, args: Args) -> list[str]:
        self.conn.send(args)
        ok, value = self.conn.recv()
        if not ok:
            raise ExtractionFailed(f"link extraction failed: {value}", code="extract_failed")
        links: list[str] = value
        return links

    def kill(self) -> None:
        self.process.kill()
        self.conn.close()
        self.process.join(5)


class ExtractionPool:
    """``processes`` children (default: one per CPU), each busy with one page at a time, started on first use."""

    def __init__(self, processes: int = 0, timeout: float = 10.0) -> None:
        self.size = processes if processes > 0 else os.cpu_count() or 1
        self.timeout = timeout
        # forkserver: children fork from a clean, single-threaded server, never from this threaded process.
        self._context = multiprocessing.get_context("forkserver")
        self._threads = ThreadPoolExecutor(self.size, thread_name_prefix="linkcast-extract")
        self._idle: asyncio.Queue[_Child | None] | None = None
        self._children: set[_Child] = set()

    async def extract(self, body: bytes, url: str, content_type: str | None) -> list[str]:
        if len(body) <= INLINE_MAX_BYTES:
            return extract_links(body, url, content_type)
        loop = asyncio.get_running_loop()
        if self._idle is None:
            self._idle = asyncio.Queue()
            for _ in range(self.size):
                self._idle.put_nowait(None)  # a slot whose child is started when first needed
        child = await self._idle.get()
        try:
            if child is None:
                child = await loop.run_in_executor(self._threads, _Child, self._context)
                self._children.add(child)
            call = loop.run_in_executor(self._threads, child.call, (body, url, content_type))
            try:
                return await asyncio.wait_for(call, self.timeout)
            except TimeoutError:
                raise FetchError(
                    f"the page took more than {self.timeout:g} s to parse (pathological markup)", code="too_complex"
                ) from None
            except (EOFError, OSError) as error:
                raise FetchError(f"link extraction crashed: {error!r}", code="extract_failed") from None
        except ExtractionFailed:
            raise  # the child reported it and is fine
        except BaseException:
            # Timed out, crashed or cancelled mid-call: the child may still answer later, so it is never reused.
            if child is not None:
                self._retire(child)
                child = None
            raise
        finally:
            self._idle.put_nowait(child)

    def _retire(self, child: _Child) -> None:
        self._children.discard(child)
        with contextlib.suppress(Exception):
            child.kill()

    def close(self) -> None:
        for child in list(self._children):
            self._retire(child)
        self._threads.shutdown(wait=False, cancel_futures=True)
