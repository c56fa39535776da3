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
"""

from __future__ import annotations

from uvicorn.protocols.utils import ClientDisconnected
from uvicorn.protocols.websockets.wsproto_impl import WSProtocol

FRAME_WRITER = "linkcast.frame_writer"


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

    def _closing(self) -> bool:
        # A lost connection has its transport closed too: is_closing() covers it on every uvicorn we support.
        protocol = self._protocol
        return protocol.close_sent or protocol.transport.is_closing()


class FrameWriterProtocol(WSProtocol):
    """``uvicorn.Config(ws=FrameWriterProtocol)``: uvicorn's wsproto protocol, offering a ``FrameWriter``."""

    async def run_asgi(self) -> None:
        if not self.config.ws_per_message_deflate:
            self.scope["extensions"][FRAME_WRITER] = FrameWriter(self)  # type: ignore[index]
        await super().run_asgi()
