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
"""

from __future__ import annotations

import logging

from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.wsproto_impl import WSProtocol

from linkcast.web.stall import StallWatch

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


class FrameWriterProtocol(StallWatch, WSProtocol):
    """``uvicorn.Config(ws=FrameWriterProtocol)``: uvicorn's wsproto protocol, offering a ``FrameWriter`` (and
    cutting a client that stalls: ``stall.py``)."""

    required_internals = REQUIRED_INTERNALS
    _fallback_logged = False

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
