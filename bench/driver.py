"""The load driver: concurrent ``PUT``s and many WebSocket clients, timing every result frame at every client.

One driver serves every system that speaks the prototype's API (linkcast and the prototype itself). Clocks are
``time.monotonic()`` in this process. Frames are not JSON-decoded on arrival (100 clients would make the driver the
bottleneck): the type and request id are read from the frame's head, which both systems write first.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

import aiohttp

TERMINAL = ("result", "error")
FRAME_HEAD = 400  # the type and request id sit in the first bytes of every frame


def frame_head(frame: str) -> tuple[str, str]:
    """The frame's ``(type, request_id)``; a frame without a type is a prototype result, or its failure when it has
    an ``"error"`` key (which the prototype writes after an empty ``links``, within the head)."""
    head = frame[:FRAME_HEAD]
    kind = "result"
    at = head.find('"type":')
    if at >= 0:
        start = head.index('"', at + 7) + 1
        kind = head[start : head.index('"', start)]
    elif '"error":' in head:  # a JSON string value cannot hold this (its quotes are escaped): it is the key
        kind = "error"
    at = head.find('"request_id":')
    if at < 0:
        return kind, ""
    start = head.index('"', at + 13) + 1
    return kind, head[start : head.index('"', start)]


class Listener:
    """One WebSocket client: counts frames and notes when each request's terminal frame arrived."""

    def __init__(self, index: int, progress: Progress, keep: bool) -> None:
        self.index = index
        self.progress = progress
        self.frames = 0
        self.received: dict[str, float] = {}
        self.failed: set[str] = set()  # requests whose terminal frame was an error: done, but no page
        self.keep: list[str] | None = [] if keep else None  # the frames themselves, to replay to a bare server
        self.close_code: int | None = None

    async def listen(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for message in ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            self.frames += 1
            data: str = message.data
            if self.keep is not None:
                self.keep.append(data)
            kind, request_id = frame_head(data)
            if kind in TERMINAL and request_id not in self.received:
                self.received[request_id] = time.monotonic()
                if kind == "error":
                    self.failed.add(request_id)
                self.progress.note(self.index, request_id)
        # The server closed the connection (a client dropped as too slow, or a crash): the phase cannot complete.
        self.close_code = ws.close_code
        self.progress.lose(self.index)


class Progress:
    """Which of the awaited requests have been delivered, counted as frames arrive (no rescans)."""

    def __init__(self, clients: int) -> None:
        self.clients = clients
        self.target: frozenset[str] = frozenset()
        self.every_client = True
        self.remaining: list[int] = []
        self.clients_done = 0
        self.seen: set[str] = set()
        self.lost: list[int] = []  # clients whose connection ended
        self.done = asyncio.Event()

    def expect(self, request_ids: frozenset[str], every_client: bool) -> None:
        self.target, self.every_client = request_ids, every_client
        self.remaining = [len(request_ids)] * self.clients
        self.clients_done = 0
        self.seen = set()
        self.done = asyncio.Event()
        if not request_ids or self.lost:
            self.done.set()

    def lose(self, index: int) -> None:
        self.lost.append(index)
        self.done.set()

    def note(self, index: int, request_id: str) -> None:
        if request_id not in self.target:
            return
        if self.every_client:
            self.remaining[index] -= 1
            if self.remaining[index] == 0:
                self.clients_done += 1
                if self.clients_done == self.clients:
                    self.done.set()
        elif request_id not in self.seen:
            self.seen.add(request_id)
            if len(self.seen) == len(self.target):
                self.done.set()


@dataclass
class Clients:
    """``count`` connected WebSocket clients and their listeners."""

    session: aiohttp.ClientSession
    listeners: list[Listener]
    sockets: list[aiohttp.ClientWebSocketResponse]
    tasks: list[asyncio.Task[None]]

    progress: Progress

    @classmethod
    async def connect(
        cls, session: aiohttp.ClientSession, ws_url: str, count: int, keep_first: bool = False
    ) -> Clients:
        sockets = await asyncio.gather(
            *(session.ws_connect(ws_url, max_msg_size=0, autoping=True, compress=0) for _ in range(count))
        )
        progress = Progress(count)
        listeners = [Listener(n, progress, keep=keep_first and n == 0) for n in range(count)]
        tasks = [asyncio.create_task(lis.listen(ws)) for lis, ws in zip(listeners, sockets, strict=True)]
        return cls(session, listeners, list(sockets), tasks, progress)

    async def close(self) -> None:
        for task in self.tasks:
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await asyncio.gather(*(ws.close() for ws in self.sockets), return_exceptions=True)

    @property
    def frames(self) -> int:
        return sum(lis.frames for lis in self.listeners)

    def expect(self, request_ids: list[str], every_client: bool) -> None:
        """Start counting deliveries of these requests (before they are submitted)."""
        self.progress.expect(frozenset(request_ids), every_client)

    async def wait_delivered(self, timeout: float) -> bool:
        """Wait until the expected terminal frames arrived (at every client, or at any one).

        False on timeout, or as soon as a client's connection ends (its frames can no longer all arrive).
        """
        try:
            async with asyncio.timeout(timeout):
                await self.progress.done.wait()
        except TimeoutError:
            return False
        return not self.progress.lost

    def failed(self, request_ids: Sequence[str]) -> set[str]:
        """Those of ``request_ids`` whose terminal frame, at any client, was an error."""
        wanted = set(request_ids)
        return {request_id for lis in self.listeners for request_id in lis.failed if request_id in wanted}

    def latencies(self, answered: dict[str, float]) -> list[float]:
        """Seconds from each PUT's answer to its terminal frame, at every client that received it."""
        out = []
        for lis in self.listeners:
            for request_id, at in lis.received.items():
                start = answered.get(request_id)
                if start is not None:
                    out.append(at - start)
        return out


async def put(session: aiohttp.ClientSession, base_url: str, request_id: str, url: str) -> float:
    """PUT one URL; returns when the answer arrived. Raises on anything but 200/201."""
    async with session.put(f"{base_url}/urls/{request_id}", json={"url": url}) as response:
        await response.read()
        if response.status not in (200, 201):
            raise RuntimeError(f"PUT {request_id} answered {response.status}")
    return time.monotonic()


@dataclass
class LoadResult:
    """What one load phase measured."""

    requests: int
    clients: int
    seconds: float
    frames: int
    complete: bool
    latencies: list[float]
    failed: int = 0  # requests that ended in an error: they count as done, so a phase with any says little

    @property
    def pages_per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0


async def crawl(
    clients: Clients,
    base_url: str,
    urls: Sequence[str],
    prefix: str,
    concurrency: int,
    every_client: bool,
    timeout: float,
) -> LoadResult:
    """PUT every URL with ``concurrency`` in flight; done when every terminal frame has been delivered."""
    semaphore = asyncio.Semaphore(concurrency)

    async def put_one(_n: int, request_id: str, url: str) -> float:
        async with semaphore:
            return await put(clients.session, base_url, request_id, url)

    return await _phase(clients, urls, prefix, every_client, timeout, put_one)


async def paced(
    clients: Clients,
    base_url: str,
    urls: Sequence[str],
    prefix: str,
    rate: float,
    every_client: bool,
    timeout: float,
) -> LoadResult:
    """PUT the URLs at a steady ``rate`` per second (open loop), so latency is measured without a backlog."""
    began = time.monotonic()

    async def put_one(n: int, request_id: str, url: str) -> float:
        await asyncio.sleep(max(0.0, began + n / rate - time.monotonic()))
        return await put(clients.session, base_url, request_id, url)

    return await _phase(clients, urls, prefix, every_client, timeout, put_one)


async def _phase(
    clients: Clients,
    urls: Sequence[str],
    prefix: str,
    every_client: bool,
    timeout: float,
    put_one: Callable[[int, str, str], Awaitable[float]],
) -> LoadResult:
    """Submit every URL with ``put_one(n, request_id, url)`` (which returns when its answer arrived); done when every
    terminal frame has been delivered."""
    ids = [f"{prefix}-{n}" for n in range(len(urls))]
    answered: dict[str, float] = {}
    clients.expect(ids, every_client)
    frames_before = clients.frames

    async def one(n: int, request_id: str, url: str) -> None:
        answered[request_id] = await put_one(n, request_id, url)

    began = time.monotonic()
    putting = asyncio.gather(*(one(n, rid, url) for n, (rid, url) in enumerate(zip(ids, urls, strict=True))))
    complete = await clients.wait_delivered(timeout)
    elapsed = time.monotonic() - began
    await _finish(putting)
    return LoadResult(
        len(ids),
        len(clients.listeners),
        elapsed,
        clients.frames - frames_before,
        complete,
        clients.latencies(answered),
        len(clients.failed(ids)),
    )


async def _finish(putting: asyncio.Future[list[None]]) -> None:
    """Let outstanding PUTs end (they have, unless the phase timed out) and surface their errors."""
    if not putting.done():
        putting.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await putting
