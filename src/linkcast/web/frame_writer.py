"""uvicorn's wsproto WebSocket protocol, plus a way to write ready-made frames straight to a client's socket.

Why: through ASGI, every frame to every client is a message dict, framed again by wsproto, sent from the client's own
task, with a system call of its own. Every client gets the same events, and a server frame is the same bytes for all
of them (``frames.py``): with this writer an event is framed once, the hub writes it to each caught-up client's socket
as it fans out (``write_now``), and a client that fell behind gets its pending frames in one write (``write``).
bench/README.md ("fan-out capacity") has the figures.

The app finds the writer in ``scope["extensions"][FRAME_WRITER]``. Under another ASGI server, or with
permessage-deflate on (its frames must go through wsproto's compressor), it is absent and the stream uses the ASGI
send. Close frames, pings and the handshake stay with uvicorn; only complete data frames are written here, so
wsproto's state is never out of step.

The writer reads attributes of uvicorn's protocol that are not public API (``REQUIRED_INTERNALS``). Each connection
checks they are there before offering the writer; if a uvicorn release lacks one, the stream falls back to the ASGI
send (logged once) rather than failing. pyproject.toml bounds uvicorn to the releases this was tested on.

The protocol also cuts a client that takes none of what it was sent for ``stall_timeout`` seconds
(``--websocket-stall-timeout``): uvicorn's ways of ending a connection (its keepalive ping's timeout, the close
after a close frame) all call ``transport.close()``, which waits for the buffer to be sent first, so a client that
stopped reading with data on its way held its connection, its slot in the connection counts and the buffers (megabytes
in the kernel) for ever. Reset, not close: what it would not read is lost with it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import struct
from typing import ClassVar

from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.wsproto_impl import WSProtocol

from linkcast.web.limit_log import LimitLog

FRAME_WRITER = "linkcast.frame_writer"
# What the writer uses of uvicorn's wsproto protocol, besides its documented ASGI behaviour.
REQUIRED_INTERNALS = ("writable", "transport", "close_sent", "config", "scope")

log = logging.getLogger(__name__)


class FrameWriter:
    """Writes whole WebSocket frames to one connection, with the same back-pressure as uvicorn's own send."""

    def __init__(self, protocol: WSProtocol) -> None:
        self._protocol = protocol

    def write_now(self, frames: bytes) -> bool:
        """Write if the socket's buffer is below its high-water mark; False, writing nothing, if it is not (or the
        connection is closing)."""
        protocol = self._protocol
        if not protocol.writable.is_set() or self._closing():
            return False
        protocol.transport.write(frames)
        return True

    async def write(self, frames: bytes) -> None:
        """Write once the socket's buffer is below its high-water mark: a client that stops reading holds its sender
        here, its bounded queue fills, and the hub drops it, instead of the server buffering without bound."""
        protocol = self._protocol
        await protocol.writable.wait()
        if self._closing():
            raise ClientDisconnected
        protocol.transport.write(frames)

    async def drained(self) -> None:
        """Return once the socket's buffer is below its high-water mark again: what was written has left, bar that."""
        await self._protocol.writable.wait()

    def _closing(self) -> bool:
        # A lost connection has its transport closed too: is_closing() covers it on every uvicorn we support.
        protocol = self._protocol
        return protocol.close_sent or protocol.transport.is_closing()


class FrameWriterProtocol(WSProtocol):
    """``uvicorn.Config(ws=FrameWriterProtocol)``: uvicorn's wsproto protocol, offering a ``FrameWriter``."""

    required_internals = REQUIRED_INTERNALS
    _fallback_logged = False
    stall_timeout: ClassVar[float | None] = None  # None: never cut (a subclass made for a server sets it)
    limit_log: ClassVar[LimitLog | None] = None
    _stall_check: asyncio.TimerHandle | None = None
    _unsent_at_check = 0

    def pause_writing(self) -> None:
        super().pause_writing()
        if self.stall_timeout is not None and self._stall_check is None:
            self._unsent_at_check = self.transport.get_write_buffer_size()
            self._stall_check = self.loop.call_later(self.stall_timeout, self._check_stall)

    def resume_writing(self) -> None:
        super().resume_writing()
        self._stop_stall_check()

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop_stall_check()
        super().connection_lost(exc)

    def _stop_stall_check(self) -> None:
        if self._stall_check is not None:
            self._stall_check.cancel()
            self._stall_check = None

    def _check_stall(self) -> None:
        """While the buffer stays full: cut the client if it took nothing since the last check, else check again."""
        self._stall_check = None
        unsent = self.transport.get_write_buffer_size()
        if unsent == 0:
            return
        if unsent < self._unsent_at_check:  # slow, but reading
            self._unsent_at_check = unsent
            assert self.stall_timeout is not None
            self._stall_check = self.loop.call_later(self.stall_timeout, self._check_stall)
            return
        if self.limit_log is not None:
            peer = self.client[0] if self.client else "a local socket"
            what = f"took nothing of {unsent} bytes in {self.stall_timeout:g} s, connection cut"
            self.limit_log.hit("--websocket-stall-timeout", peer, what)
        _reset(self.transport)

    async def run_asgi(self) -> None:
        if self._internals_present() and not self.config.ws_per_message_deflate:
            self.scope.setdefault("extensions", {})[FRAME_WRITER] = FrameWriter(self)  # type: ignore[typeddict-item]
        await super().run_asgi()

    def _internals_present(self) -> bool:
        missing = [name for name in self.required_internals if not hasattr(self, name)]
        if missing and not FrameWriterProtocol._fallback_logged:
            FrameWriterProtocol._fallback_logged = True
            log.warning("this uvicorn lacks %s: WebSocket frames go through the ASGI send", ", ".join(missing))
        return not missing


def _reset(transport: asyncio.Transport) -> None:
    """Close at once, with a reset: a plain abort leaves the kernel the socket's unsent megabytes to send to a client
    that reads none of them (FIN-WAIT-1 for minutes); with no linger they are dropped."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    transport.abort()
