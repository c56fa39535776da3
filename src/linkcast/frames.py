"""Events as WebSocket clients receive them: built once per event, shared by every client.

A server's WebSocket frame is never masked, so the bytes of one text message are the same for every client. An event
is framed once, the first time a client needs it, and the same bytes are written to every connection
(``web/frame_writer.py``); a server without that direct path sends the frame's text through ASGI instead.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from wsproto.frame_protocol import FrameProtocol

# The most frames joined into one socket write: bounds the copy a join makes, and how far one write can overshoot the
# socket buffer's high-water mark (the next write waits below it), so a replay of thousands of events stays bounded.
FRAMES_PER_WRITE = 64

# Framing keeps no state between complete (final) messages, so one framer serves every event.
_SERVER_FRAMER = FrameProtocol(client=False, extensions=[])


def websocket_text_message(text: str) -> bytes:
    """One unfragmented, unmasked, uncompressed text frame carrying ``text``."""
    return bytes(_SERVER_FRAMER.send_data(text, fin=True))


class Frame:
    """One message of the stream: the event id it delivers (0 for notices) and its JSON text."""

    __slots__ = ("_wire", "event_id", "text")

    def __init__(self, event_id: int, text: str) -> None:
        self.event_id = event_id
        self.text = text
        self._wire: bytes | None = None

    @property
    def wire(self) -> bytes:
        """The whole WebSocket frame, built on first use and then shared."""
        if self._wire is None:
            self._wire = websocket_text_message(self.text)
        return self._wire


def wire_batches(frames: Sequence[Frame]) -> Iterator[tuple[int, bytes]]:
    """The bytes of ``frames``, ``FRAMES_PER_WRITE`` frames at a time, each with the index of its first frame."""
    for start in range(0, len(frames), FRAMES_PER_WRITE):
        batch = frames[start : start + FRAMES_PER_WRITE]
        yield start, batch[0].wire if len(batch) == 1 else b"".join(frame.wire for frame in batch)
