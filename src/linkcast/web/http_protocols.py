"""uvicorn's HTTP/1.1 protocols (httptools or h11) with the bounds a server open to anyone needs.

uvicorn itself bounds none of these (figures in bench/README.md, "Hostile clients of the server itself"):

- **Header size.** A request line plus header block over ``--max-request-header-bytes`` is refused with ``431`` (JSON
  error ``headers_too_large``, ``Connection: close``) before more than the bound is handed to the parser: bytes are
  fed to it at most up to the bound while a header block is incomplete. httptools has no bound of its own (it
  gathers a header of any size), h11 only refuses with a plain 400. WebSocket handshakes are HTTP requests here too.
- **Header deadline.** A client has ``--header-timeout`` seconds, from the connection opening or from the end of the
  previous response, to complete a request's header block; then the connection is closed, with ``408`` if part of a
  request had come. uvicorn starts no timer on a new connection, and its keep-alive timer stops at the first byte.
- **Send stalls** (``stall.py``): a client that takes nothing of what it was sent for ``--send-stall-timeout``
  seconds is reset, on HTTP (an answer it does not read) as on WebSocket.
- **Connection counts** (``connections.py``): a connection over its client's ``--max-connections-per-client`` is
  closed as soon as it is accepted; past ``--max-connections``, the connection waiting longest for a request head
  is closed to make room (or, if every connection is busy, the new one). A WebSocket keeps its connection's slot
  until it closes.

Every bound hit is logged, rate-limited (``limit_log.py``). uvicorn's protocol classes are internals: the hooks used
here are checked at startup, and if one is missing the plain uvicorn protocols serve, after one warning.
"""

from __future__ import annotations

import asyncio
import http
import importlib.util
import logging
from dataclasses import dataclass
from typing import Any, ClassVar

import orjson
import uvicorn

from linkcast.core.errors import ConfigurationError
from linkcast.web.connections import ConnectionGuard, Slot
from linkcast.web.frame_writer import FrameWriterProtocol
from linkcast.web.stall import StallWatch

log = logging.getLogger("linkcast.connections")

PARSERS = ("auto", "httptools", "h11")
# After a refusal the connection is read and discarded for a while before it is closed: closing a socket with unread
# input resets it, and the client would lose the answer it was sent.
LINGER_SECONDS = 2.0
LINGER_BYTES = 1024 * 1024
# uvicorn's own methods (beyond asyncio.Protocol's) that the guarded protocols override: if one were renamed, the
# override would silently never run.
UVICORN_HOOKS = ("on_response_complete", "handle_websocket_upgrade")
PARSER_HOOKS = {"httptools": ("on_headers_complete", "on_message_complete"), "h11": ("handle_events",)}
TESTED_UVICORN = "0.46 to 0.55"


class CountedWSProtocol(FrameWriterProtocol):
    """The WebSocket protocol, holding its connection's slot in the counts until the connection is lost."""

    connection_slot: Slot | None = None

    def connection_lost(self, exc: Exception | None) -> None:
        try:
            super().connection_lost(exc)
        finally:
            if self.connection_slot is not None:
                self.connection_slot.release()


class GuardedConnection:
    """The bounds, as a mixin before one of uvicorn's HTTP protocols (``guarded_protocol`` builds the class)."""

    guard: ClassVar[ConnectionGuard]
    # uvicorn's protocol provides these.
    transport: asyncio.Transport
    client: tuple[str, int] | None
    server_state: Any
    loop: asyncio.AbstractEventLoop

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._slot: Slot | None = None
        self._header_bytes = 0  # of the header block being received
        self._deadline: asyncio.TimerHandle | None = None
        self._deadline_after_response = False
        self._request_began = False  # bytes came since the deadline was armed
        self._upgraded = False
        self._refused = False
        self._discarded = 0

    def _reading_body(self) -> bool:
        """Whether the parser is in a request's body (whose bytes are no header bytes)."""
        raise NotImplementedError

    # asyncio.Protocol

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)  # type: ignore[misc]
        self._slot = self.guard.admit(self._peer())
        if self._slot is None:
            self._refused = True
            transport.close()
            return
        self._arm_deadline(after_response=False)

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_deadline()
        try:
            super().connection_lost(exc)  # type: ignore[misc]
        finally:
            if self._slot is not None:
                self._slot.release()
                self._slot = None

    def data_received(self, data: bytes) -> None:
        if self._refused:
            self._discard(data)
            return
        self._request_began = True
        # Outside a body, the parser gets at most the bytes left of the bound. Exact but for one case: the bytes after
        # a header block (or a body) that ends inside a piece are fed with it, uncounted, so a pipelined request can
        # add at most one read (256 KiB) to what is held. Still a bound.
        while data and not self.transport.is_closing() and not self._upgraded:
            if self._reading_body():
                self._feed(data)
                return
            room = self.guard.max_header_bytes - self._header_bytes
            if room <= 0:
                self._headers_too_large()
                return
            piece, data = data[:room], data[room:]
            self._header_bytes += len(piece)
            self._feed(piece)

    # uvicorn's protocol hooks

    def on_response_complete(self) -> None:
        cycle = getattr(self, "cycle", None)
        super().on_response_complete()  # type: ignore[misc]
        if getattr(self, "cycle", None) is not cycle:
            self._header_bytes = 0  # a pipelined request's header block completed
        if not self.transport.is_closing() and not self._request_in_flight():
            self._arm_deadline(after_response=True)

    def handle_websocket_upgrade(self, *args: Any) -> None:
        self._cancel_deadline()
        self._upgraded = True
        super().handle_websocket_upgrade(*args)  # type: ignore[misc]
        slot, self._slot = self._slot, None
        successor = self.transport.get_protocol()
        if isinstance(successor, CountedWSProtocol):
            successor.connection_slot = slot
        elif slot is not None:
            slot.release()

    # the bounds

    def _feed(self, data: bytes) -> None:
        cycle = getattr(self, "cycle", None)
        super().data_received(data)  # type: ignore[misc]
        if getattr(self, "cycle", None) is not cycle:  # a header block completed: a request began
            self._header_bytes = 0
            self._cancel_deadline()

    def _headers_too_large(self) -> None:
        limit = self.guard.max_header_bytes
        self.guard.limit_log.hit("--max-request-header-bytes", self._peer_text(), f"over {limit} bytes, 431")
        self._refuse(431, "headers_too_large", f"the request line and headers exceed {limit} bytes")

    def _arm_deadline(self, *, after_response: bool) -> None:
        self._cancel_deadline()
        self._deadline_after_response = after_response
        self._request_began = False
        self._deadline = self.loop.call_later(self.guard.header_timeout, self._deadline_passed)
        self.guard.waiting(self)

    def _cancel_deadline(self) -> None:
        self.guard.not_waiting(self)
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def evict(self) -> None:
        """Make room on a full server (``ConnectionGuard.admit``): close now, the slot free at once."""
        self._refused = True
        self._cancel_deadline()
        if self._slot is not None:
            self._slot.release()
            self._slot = None
        self.transport.close()

    def _deadline_passed(self) -> None:
        self._cancel_deadline()  # it has passed; and whatever happens next, the connection waits no more
        if self.transport.is_closing() or self._upgraded or self._refused or self._request_in_flight():
            return
        if not self._request_began:
            # Idle: a keep-alive connection past its time needs no log line; one that never sent a byte does.
            if not self._deadline_after_response:
                self.guard.limit_log.hit("--header-timeout", self._peer_text(), "silent connection closed")
            self.transport.close()
            return
        timeout = self.guard.header_timeout
        self.guard.limit_log.hit("--header-timeout", self._peer_text(), f"headers incomplete after {timeout:g} s, 408")
        self._refuse(408, "header_timeout", f"the request's headers did not arrive within {timeout:g} s")

    def _refuse(self, status: int, code: str, message: str) -> None:
        """Answer ``status`` and close; just close if a response is under way (it cannot be interrupted)."""
        self._refused = True
        self._cancel_deadline()
        if self._request_in_flight():
            self.transport.close()
            return
        body = orjson.dumps({"error": {"code": code, "message": message}})
        head = [f"HTTP/1.1 {status} {http.HTTPStatus(status).phrase}\r\n".encode()]
        for name, value in getattr(self.server_state, "default_headers", []):
            head += [name, b": ", value, b"\r\n"]
        head.append(b"content-type: application/json\r\ncontent-length: %d\r\nconnection: close\r\n\r\n" % len(body))
        self.transport.write(b"".join(head) + body)
        if self.transport.can_write_eof():
            self.transport.write_eof()
            self.loop.call_later(LINGER_SECONDS, self.transport.close)
            self.guard.waiting(self)  # lingering is no work: it gives way on a full server
        else:
            self.transport.close()

    def _discard(self, data: bytes) -> None:
        self._discarded += len(data)
        if self._discarded > LINGER_BYTES:
            self.transport.close()

    def _request_in_flight(self) -> bool:
        cycle = getattr(self, "cycle", None)
        return bool(getattr(self, "pipeline", None)) or (cycle is not None and not cycle.response_complete)

    def _peer(self) -> str | None:
        return self.client[0] if self.client else None

    def _peer_text(self) -> str:
        return self._peer() or "a local socket"


class _HttpToolsState:
    """Where httptools is in a request: it says so only through its callbacks."""

    _in_body = False

    def on_headers_complete(self) -> None:
        self._in_body = True
        super().on_headers_complete()  # type: ignore[misc]

    def on_message_complete(self) -> None:
        self._in_body = False
        super().on_message_complete()  # type: ignore[misc]

    def _reading_body(self) -> bool:
        return self._in_body


class _H11State:
    """Where h11 is in a request: its state machine says."""

    conn: Any

    def _reading_body(self) -> bool:
        import h11

        return bool(self.conn.their_state is h11.SEND_BODY)


@dataclass(frozen=True)
class Protocols:
    """What ``uvicorn.Config`` takes as ``http=`` and ``ws=``."""

    http: type[asyncio.Protocol]
    ws: type[asyncio.Protocol]
    guarded: bool


def parser_base(parser: str) -> tuple[str, type[asyncio.Protocol]]:
    """``LINKCAST_HTTP_PARSER`` (auto, httptools, h11) -> the parser's name and uvicorn's protocol class for it."""
    if parser not in PARSERS:
        raise ConfigurationError(f"LINKCAST_HTTP_PARSER={parser!r}: expected one of {', '.join(PARSERS)}")
    has_httptools = importlib.util.find_spec("httptools") is not None
    if parser == "httptools" and not has_httptools:
        raise ConfigurationError("LINKCAST_HTTP_PARSER=httptools, but httptools is not installed")
    if parser == "h11" or not has_httptools:
        from uvicorn.protocols.http.h11_impl import H11Protocol

        return "h11", H11Protocol
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    return "httptools", HttpToolsProtocol


def guarded_protocols(guard: ConnectionGuard, parser: str, *, base: type[asyncio.Protocol] | None = None) -> Protocols:
    """uvicorn's protocol for ``parser`` with ``guard``'s bounds, and the WebSocket protocol that keeps the
    connection's slot; the plain protocols (and one warning) if this uvicorn lacks a hook the bounds rely on.
    ``base`` replaces uvicorn's class (tests)."""
    name, default_base = parser_base(parser)
    base = base or default_base
    missing = [hook for hook in (*UVICORN_HOOKS, *PARSER_HOOKS[name]) if not callable(getattr(base, hook, None))]
    if missing:
        log.warning(
            "uvicorn %s: %s has no %s; serving WITHOUT the header size and time bounds and the connection limits "
            "(tested with uvicorn %s)",
            uvicorn.__version__, base.__name__, ", ".join(missing), TESTED_UVICORN,
        )  # fmt: skip
        return Protocols(http=base, ws=_bounded(FrameWriterProtocol, guard), guarded=False)
    state = _HttpToolsState if name == "httptools" else _H11State
    attributes = {"guard": guard, "stall_timeout": guard.stall_timeout, "limit_log": guard.limit_log}
    http_class = type(f"Guarded{base.__name__}", (state, GuardedConnection, StallWatch, base), attributes)
    return Protocols(http=http_class, ws=_bounded(CountedWSProtocol, guard), guarded=True)


def _bounded(ws: type[FrameWriterProtocol], guard: ConnectionGuard) -> type[FrameWriterProtocol]:
    """``ws`` cutting clients that stall for ``guard.stall_timeout`` (it needs no hook of uvicorn's HTTP protocol)."""
    return type(ws.__name__, (ws,), {"stall_timeout": guard.stall_timeout, "limit_log": guard.limit_log})
