"""Cutting a client that takes nothing of what it is sent: ``--send-stall-timeout``, on HTTP and WebSocket alike.

Why: uvicorn ends a connection with ``transport.close()``, which waits for the unsent bytes to be sent first: after
Quart's response timeout (60 s) for an answer the client does not read, after the keepalive ping's timeout or a
close frame for a WebSocket. A client that stopped reading with bytes on their way (a Swagger UI bundle asked for
eight times on one connection, events of a stream) so kept its connection, its place in the connection counts (busy,
never evicted) and megabytes of socket buffers for ever. Here, while the socket's buffer is full, the client must
take some of it every ``stall_timeout`` seconds; one that takes nothing is reset (unsent bytes dropped, the kernel's
too). A slow client that keeps reading is never cut: what it took is counted in the kernel's send queue as well as in
the transport's buffer, since the kernel asks for more only once much of its queue (megabytes) has gone, and a client
reading a few KB/s would not be seen to take anything for minutes.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import socket
import struct
import termios
from typing import Any, ClassVar

from linkcast.web.limit_log import LimitLog


class StallWatch:
    """A mixin before one of uvicorn's protocols (which provides ``transport``, ``loop``, ``client``, and the
    ``pause_writing``/``resume_writing`` the transport calls around its buffer's high-water mark)."""

    stall_timeout: ClassVar[float | None] = None  # None: never cut (the subclass made for a server sets it)
    limit_log: ClassVar[LimitLog | None] = None
    transport: asyncio.Transport
    loop: asyncio.AbstractEventLoop
    client: Any
    _stall_check: asyncio.TimerHandle | None = None
    _unsent_at_check = 0

    def pause_writing(self) -> None:
        super().pause_writing()  # type: ignore[misc]
        if self.stall_timeout is not None and self._stall_check is None:
            self._unsent_at_check = unsent_bytes(self.transport)
            self._stall_check = self.loop.call_later(self.stall_timeout, self._check_stall)

    def resume_writing(self) -> None:
        super().resume_writing()  # type: ignore[misc]
        self._stop_stall_check()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_stall_check()
        super().connection_lost(exc)  # type: ignore[misc]

    def _stop_stall_check(self) -> None:
        if self._stall_check is not None:
            self._stall_check.cancel()
            self._stall_check = None

    def _check_stall(self) -> None:
        """While the buffer stays full: cut the client if it took nothing since the last check, else check again."""
        self._stall_check = None
        if self.transport.get_write_buffer_size() == 0:
            return
        unsent = unsent_bytes(self.transport)
        if unsent < self._unsent_at_check:  # slow, but reading
            self._unsent_at_check = unsent
            assert self.stall_timeout is not None
            self._stall_check = self.loop.call_later(self.stall_timeout, self._check_stall)
            return
        if self.limit_log is not None:
            peer = self.client[0] if self.client else "a local socket"
            what = f"took nothing of {unsent} bytes in {self.stall_timeout:g} s, connection reset"
            self.limit_log.hit("--send-stall-timeout", peer, what)
        reset(self.transport)


def unsent_bytes(transport: asyncio.Transport) -> int:
    """Bytes written and not yet taken by the client: the transport's buffer, and the socket's send queue in the
    kernel (not yet acknowledged) where the system says (Linux: TIOCOUTQ)."""
    unsent = transport.get_write_buffer_size()
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError, ValueError):
            unsent += struct.unpack("i", fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, b"\0" * 4))[0]
    return unsent


def reset(transport: asyncio.Transport) -> None:
    """Close at once, with a reset: a plain abort leaves the kernel the socket's unsent megabytes to send to a client
    that reads none of them (FIN-WAIT-1 for minutes); with no linger they are dropped."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
