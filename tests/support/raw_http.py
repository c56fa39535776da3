"""A raw TCP client for hostile requests: any bytes, at any pace, from any loopback source address.

Unlike a stream reader, it keeps what the server sent even when the connection ends in a reset (a server that
refuses a request it has not read to the end closes on unread input), and says when and how the connection ended.
"""

from __future__ import annotations

import asyncio
import time


class RawClient(asyncio.Protocol):
    """One connection; ``received`` holds everything the server sent, ``closed`` resolves when it ends."""

    def __init__(self) -> None:
        loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.received = bytearray()
        self.closed: asyncio.Future[Exception | None] = loop.create_future()
        self.opened_at = time.monotonic()
        self.closed_at: float | None = None
        self._writable = asyncio.Event()
        self._writable.set()

    @classmethod
    async def open(cls, port: int, source: str = "127.0.0.1") -> RawClient:
        """Connect to ``127.0.0.1:port`` from ``source`` (any 127.0.0.0/8 address is this machine on Linux)."""
        loop = asyncio.get_running_loop()
        _, client = await loop.create_connection(cls, "127.0.0.1", port, local_addr=(source, 0))
        return client

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.received += data

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed_at = time.monotonic()
        if not self.closed.done():
            self.closed.set_result(exc)
        self._writable.set()

    def pause_writing(self) -> None:
        self._writable.clear()

    def resume_writing(self) -> None:
        self._writable.set()

    # use

    @property
    def is_open(self) -> bool:
        return not self.closed.done()

    @property
    def lifetime(self) -> float:
        """Seconds from opening to closing (so far, if still open)."""
        return (self.closed_at or time.monotonic()) - self.opened_at

    async def send(self, data: bytes) -> bool:
        """Write ``data`` and wait until the socket takes more; False once the connection is gone."""
        if not self.is_open or self.transport is None or self.transport.is_closing():
            return False
        self.transport.write(data)
        await self._writable.wait()
        return self.is_open

    async def stream(self, head: bytes, filler: bytes, total: int, tail: bytes = b"\r\n\r\n") -> None:
        """Send ``head``, then ``filler`` over and over up to ``total`` bytes, then ``tail`` (by default the end of
        the request head), stopping when the server closes."""
        sent = 0
        if not await self.send(head):
            return
        while sent < total and await self.send(filler):
            sent += len(filler)
        await self.send(tail)

    async def wait_closed(self, timeout: float) -> Exception | None:
        async with asyncio.timeout(timeout):
            return await asyncio.shield(self.closed)

    def status(self) -> int | None:
        """The status of the first response received, if any."""
        line = bytes(self.received).split(b"\r\n", 1)[0]
        parts = line.split(b" ")
        return int(parts[1]) if len(parts) > 1 and line.startswith(b"HTTP/1.1 ") else None

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()
