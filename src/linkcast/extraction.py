"""Parsing what a site sent, off the event loop: small documents inline (or in a thread), the rest in child processes
with a deadline.

Why processes, not threads: selectolax releases the GIL while lexbor parses, so a thread would keep the event loop
free, but a thread cannot be stopped. HTML tree building is quadratic in nesting depth (each start tag scans the
stack of open elements, as the standard says; browsers cap the depth at 512, lexbor does not): 100,000 nested
``<div>`` (1.2 MB) take about a minute, and 20,000 (100 KB) most of a second. A child past its deadline is killed and
replaced, and the request fails with ``too_complex``; a child that crashes fails one request, never the worker.
Below ``INLINE_MAX_BYTES`` the worst case is a few tens of milliseconds, cheaper than the hand-off.

A page's links are one task a child runs; the others are named in ``TASKS`` (a feed's reading, a page's feed links),
each a function of the request and the body that returns what goes back, so that every parse of a large document a
site controls has the same deadline.

The children are plain ``python -m linkcast.extraction`` processes driven over their stdin and stdout with asyncio
(no threads, no multiprocessing: nothing re-imports the parent's main module). A request is one line of JSON (the
task, its arguments, the body's length) and the body; the answer is one line of JSON.

Each child's heap is capped (``--parse-memory-bytes``, ``RLIMIT_DATA``): a tree costs lexbor some 65 times its page,
so 10 MB of ``<p>`` (20 KB gzipped) took a child to 660 MB, and every child at once (one per CPU) as many times. Past
the cap the parse fails (``too_complex``) and the child, which may have been left short of memory anywhere, exits
and is replaced; a real page of 10 MB with 70,000 links takes some 170 MB.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import resource
import signal
import sys
from collections.abc import Callable
from typing import Any

import orjson
from selectolax.lexbor import SelectolaxError

from linkcast.core.errors import FetchError, LinkcastError, Unavailable
from linkcast.core.links import FoundLinks, LinkLimits, find_links

# The worst page of this size (about 6,500 nested elements) parses in well under 0.1 s.
INLINE_MAX_BYTES = 32 * 1024
# The longest answer line read from a child. Each task bounds its own answer (a page's links by --max-result-bytes, a
# feed's entries by their count and each entry's links): this only stops a child gone wrong.
ANSWER_LIMIT_BYTES = 1 << 30
# A child says it is ready once it has imported what it needs (about 0.3 s, far longer on a loaded machine): a page's
# deadline then counts its parse alone, not the child's start.
READY = b"ready\n"
START_TIMEOUT_SECONDS = 60.0
# What a child answers when its task ran out of the memory it may have (its parent says so as ``too_complex``).
OUT_OF_MEMORY = "out_of_memory"
# What a child can be asked to run: a task's name, and the function (``module:name``) that takes the request's JSON
# and the body and returns the answer's. Imported in the child when first asked for.
TASKS = {
    "links": "linkcast.extraction:links_task",
    "feed": "linkcast.feeds.reading:read_task",
    "feed_links": "linkcast.feeds.discover:feed_links_task",
}
Task = Callable[[dict[str, Any], bytes], dict[str, Any]]


class ExtractionFailed(FetchError):
    """The extraction itself raised (in a healthy child)."""


class _Child:
    """One child process; a request at a time."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, answer_limit: int, memory_bytes: int = 0) -> _Child:
        """A child that has said it is ready, its heap capped at ``memory_bytes`` (0: not); FetchError if it could
        not start."""
        try:
            process = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "linkcast.extraction", str(memory_bytes),
                stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=answer_limit,
            )  # fmt: skip
        except OSError as error:  # no process could be made (out of memory, of process slots)
            raise FetchError(f"link extraction could not start: {error!r}", code="extract_failed") from None
        child = cls(process)
        assert process.stdout is not None
        try:
            said = await asyncio.wait_for(process.stdout.readline(), START_TIMEOUT_SECONDS)
        except TimeoutError:
            said = b""
        except BaseException:  # cancelled
            await child.kill()
            raise
        if said != READY:
            await child.kill()
            raise FetchError("link extraction could not start: its process did not get ready", code="extract_failed")
        return child

    async def call(self, task: str, request: dict[str, Any], body: bytes) -> dict[str, Any]:
        stdin, stdout = self.process.stdin, self.process.stdout
        assert stdin is not None and stdout is not None
        stdin.write(orjson.dumps({"task": task, "size": len(body), **request}) + b"\n")
        stdin.write(body)
        await stdin.drain()
        answer = orjson.loads(await stdout.readline() or b"null")
        if answer is None:
            raise ConnectionResetError("the extraction child exited")
        return answer  # type: ignore[no-any-return]

    async def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            self.process.kill()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.process.wait(), 5)


class ExtractionPool:
    """``processes`` children (default: one per CPU), each busy with one document at a time, started on first use.

    Jobs (``run``) are as many at once as the workers, and the scheduler shares them fairly between requests and
    hosts. API requests that parse (``run_for_request``: a page searched for its feed, a hub's delivery) are not
    jobs: unbounded, one client's 1,000 ``PUT /feeds`` of pages that take the whole ``--parse-timeout`` (the rate
    limit's burst, at once) queued ahead of every worker's page, for ``1,000 x 10 s`` over the children, and each
    worker waited in that queue. They get half the children at most (one at least), and one whose turn does not come
    within the deadline is told to try again later.
    """

    def __init__(
        self, processes: int = 0, timeout: float = 10.0, limits: LinkLimits | None = None, memory_bytes: int = 0
    ) -> None:
        self.size = processes if processes > 0 else os.cpu_count() or 1
        self.timeout = timeout
        self.memory_bytes = memory_bytes  # each child's heap at most (0: no cap)
        self.limits = limits or LinkLimits()
        self._idle: asyncio.Queue[_Child | None] | None = None
        self._children: set[_Child] = set()
        self._killing: set[asyncio.Task[None]] = set()
        self._request_turns = asyncio.Semaphore(max(1, self.size // 2))

    async def extract(self, body: bytes, url: str, content_type: str | None) -> FoundLinks:
        """The page's links within the pool's limits (what is past them is never resolved nor sent back)."""
        if len(body) <= INLINE_MAX_BYTES:
            return find_links(body, url, content_type, self.limits)
        request = {"url": url, "content_type": content_type, **limits_json(self.limits)}
        too_slow = f"the page took more than {self.timeout:g} s to parse (pathological markup)"
        answer = await self.run("links", request, body, too_slow)
        if "error" in answer:
            raise ExtractionFailed(f"link extraction failed: {answer['error']}", code="extract_failed")
        return FoundLinks(answer["links"], answer["truncated"])

    async def run_for_request(self, task: str, request: dict[str, Any], body: bytes, too_slow: str) -> dict[str, Any]:
        """``run`` for an API request, within its share of the children; ``Unavailable`` (503) if its turn does not
        come within the pool's deadline."""
        try:
            async with asyncio.timeout(self.timeout):
                await self._request_turns.acquire()
        except TimeoutError:
            raise Unavailable(
                f"every process reading large documents for requests has been busy for {self.timeout:g} s: try again "
                "later",
                code="extraction_busy",
            ) from None
        try:
            return await self.run(task, request, body, too_slow)
        finally:
            self._request_turns.release()

    async def run(self, task: str, request: dict[str, Any], body: bytes, too_slow: str) -> dict[str, Any]:
        """Run ``task`` (a name in ``TASKS``) on ``body`` in a child, within the pool's deadline: its answer, which
        holds ``error`` (and the ``LinkcastError``'s ``code``, if it was one) if the task raised. ``FetchError``
        ``too_complex`` (saying ``too_slow``) past the deadline, ``extract_failed`` if the child crashed."""
        if self._idle is None:
            self._idle = asyncio.Queue()
            for _ in range(self.size):
                self._idle.put_nowait(None)  # a slot whose child is started when first needed
        idle = self._idle
        child = await idle.get()
        try:
            if child is not None and child.process.returncode is not None:
                # Killed while idle (the OOM killer, an operator): its pipes are closed. This document did not crash
                # it, so a fresh child takes it rather than fail it.
                self._children.discard(child)
                dead, child = child, None
                await dead.kill()  # reaps it and closes its pipes
            if child is None:
                child = await _Child.start(ANSWER_LIMIT_BYTES, self.memory_bytes)
                self._children.add(child)
            try:
                answer = await asyncio.wait_for(child.call(task, request, body), self.timeout)
            except TimeoutError:
                raise FetchError(too_slow, code="too_complex") from None
            # The pipe broke, or the answer is not JSON; uvloop raises RuntimeError on a write to the pipe of a child
            # that died just before the page was sent.
            except (OSError, ValueError, RuntimeError) as error:
                raise FetchError(f"link extraction crashed: {error!r}", code="extract_failed") from None
            if answer.get("code") == OUT_OF_MEMORY:
                message = (
                    f"reading it took more than the {self.memory_bytes} bytes of memory allowed (pathological markup)"
                )
                raise FetchError(message, code="too_complex")
            return answer
        except BaseException:
            # Timed out, crashed or cancelled mid-call: the child may still answer later, so it is never reused.
            if child is not None:
                self._children.discard(child)
                killing = asyncio.get_running_loop().create_task(child.kill())
                self._killing.add(killing)
                killing.add_done_callback(self._killing.discard)
                child = None
            raise
        finally:
            idle.put_nowait(child)

    async def close(self) -> None:
        children, self._children = self._children, set()
        await asyncio.gather(*(child.kill() for child in children), *self._killing)


def links_task(request: dict[str, Any], body: bytes) -> dict[str, Any]:
    found = find_links(body, request["url"], request["content_type"], limits_from_json(request))
    return {"links": found.links, "truncated": found.truncated}


def limits_json(limits: LinkLimits) -> dict[str, Any]:
    """A task request's link limits (``limits_from_json`` reads them back in the child)."""
    return {"max_links": limits.max_links, "max_bytes": limits.max_bytes}


def limits_from_json(request: dict[str, Any]) -> LinkLimits:
    return LinkLimits(request["max_links"], request["max_bytes"])


def _task(name: str, loaded: dict[str, Task]) -> Task:
    if name not in loaded:
        module, _, function = TASKS[name].partition(":")
        loaded[name] = getattr(importlib.import_module(module), function)
    return loaded[name]


def _serve(memory_bytes: int) -> None:
    """A child's loop: read a request, answer with what its task returns, until stdin closes (its parent is gone) or
    a task runs out of the ``memory_bytes`` its heap may have."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the parent, which then closes our stdin
    if memory_bytes:
        resource.setrlimit(resource.RLIMIT_DATA, (memory_bytes, memory_bytes))
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    sink.write(READY)
    sink.flush()
    loaded: dict[str, Task] = {}
    while header := source.readline():
        request = orjson.loads(header)
        body = source.read(request["size"])
        answer: dict[str, Any]
        try:
            answer = _task(request["task"], loaded)(request, body)
        except LinkcastError as error:
            answer = {"error": error.message, "code": error.code}
        except Exception as error:
            if memory_bytes and _out_of_memory(error):
                sink.write(orjson.dumps({"error": "out of memory", "code": OUT_OF_MEMORY}) + b"\n")
                sink.flush()
                return  # short of memory, anything may have failed half-way: a fresh child takes the next request
            answer = {"error": f"{type(error).__name__}: {error}"}
        sink.write(orjson.dumps(answer) + b"\n")
        sink.flush()


def _out_of_memory(error: Exception) -> bool:
    """Whether ``error`` came of the heap's cap: a MemoryError, or lexbor failing to parse, which it does only when
    an allocation fails (it reads any bytes as HTML)."""
    return isinstance(error, MemoryError | SelectolaxError)


if __name__ == "__main__":
    _serve(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
