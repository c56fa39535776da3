"""The request log: one INFO line per HTTP request and per WebSocket handshake, and never a secret in any log line.

A line gives the client, the method (``WebSocket`` for a handshake), the path, the status and the time taken:
``127.0.0.1 "GET /urls/42" 200 1.3 ms``, ``127.0.0.1 "WebSocket /scraped_urls" 101 2.0 ms``. Never the query
string (the live page sends ``?token=`` on its WebSocket), never a header (``Authorization``), never the token of a
WebSub callback's path.

uvicorn's own lines are tamed by ``QueryRedaction``, a filter on its loggers: its WebSocket handshake lines, which
carry the query string, are dropped (the request log has them without it); any other path it logs loses its query
string; and its trace-level ASGI message dump (headers and all) is dropped whole. uvicorn logs those lines from the
middle of its protocols' ``send``, which would have to be copied to change them there.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

log = logging.getLogger("linkcast.access")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# A path in a log line is at most this long: the request line may be up to --max-request-header-bytes.
MAX_LOGGED_PATH = 300
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi")
# uvicorn's WebSocket handshake lines: '%s - "WebSocket %s" [accepted]', '... 403', '... %d'.
HANDSHAKE_LINE = re.compile(r'^%s - "WebSocket %s"')
# A run of characters that are neither space nor quote: a path and its query sit in one.
TOKEN = re.compile(r"[^\s\"']+")
UNPRINTABLE = re.compile(r'[^\x21-\x7e]|"')
# The token that ends a WebSub callback's path stands for its hub: whoever reads it could verify or deny in the hub's
# name (web/websub.py). Whatever follows the feed id goes, so a path with more segments hides them too.
CALLBACK_TOKEN = re.compile(rb"^(/websub/[^/]*/).+", re.DOTALL)


def loggable_path(scope: Scope) -> str:
    """The request's path as received (still percent-encoded; never its query), safe to put in a log line: no
    control characters, quotes or spaces (they are percent-encoded), at most ``MAX_LOGGED_PATH`` characters, and
    never a WebSub callback's token (``/websub/<feed id>/***``)."""
    raw = scope.get("raw_path") or scope.get("path", "").encode("utf-8", "replace")
    raw = CALLBACK_TOKEN.sub(rb"\1***", raw)
    path = UNPRINTABLE.sub(lambda m: "".join(f"%{byte:02X}" for byte in m[0].encode("latin-1")), raw.decode("latin-1"))
    return path if len(path) <= MAX_LOGGED_PATH else path[:MAX_LOGGED_PATH] + "..."


class RequestLog:
    """ASGI middleware writing the request log. Inside uvicorn's proxy-headers middleware, so that behind a trusted
    proxy the client logged is the one its ``X-Forwarded-For`` names."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket") or not log.isEnabledFor(logging.INFO):
            await self.app(scope, receive, send)
            return
        began = time.perf_counter()
        status: int | None = None
        logged = False

        def write(code: int) -> None:
            nonlocal logged
            logged = True
            client = scope.get("client")
            method = scope.get("method", "GET") if kind == "http" else "WebSocket"
            took = (time.perf_counter() - began) * 1000
            log.info('%s "%s %s" %d %.1f ms', client[0] if client else "-", method, loggable_path(scope), code, took)

        async def logging_send(message: Message) -> None:
            nonlocal status
            if not logged:
                what = message["type"]
                if what == "http.response.start":
                    status = message["status"]
                elif what == "http.response.body" and not message.get("more_body", False):
                    write(status or 500)
                elif what == "websocket.accept":
                    write(101)
                elif what == "websocket.close":
                    write(403)  # a close before the accept: uvicorn refuses the handshake with 403
                elif what == "websocket.http.response.start":
                    write(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, logging_send)
        finally:
            if not logged:
                write(status or 500)  # the app failed or gave no answer: uvicorn answers 500


class QueryRedaction(logging.Filter):
    """Keeps query strings (``?token=``) and headers out of uvicorn's log lines; see the module's docstring."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.name == "uvicorn.asgi":
            return False
        if isinstance(record.msg, str) and HANDSHAKE_LINE.match(record.msg):
            return False
        if isinstance(record.args, tuple) and record.args:
            record.args = tuple(redact(arg) if isinstance(arg, str) else arg for arg in record.args)
        if isinstance(record.msg, str):
            record.msg = redact(record.msg)
        return True


def redact(text: str) -> str:
    """``text`` with the query string cut from every path in it: ``/scraped_urls?token=x`` -> ``/scraped_urls``.

    A run without spaces or quotes is cut at its first "?" after a "/". Done a run at a time, each read once: a
    pattern that tried a path from every "/" ran on to the run's end each time (16 KB of "/" took 1.2 s)."""
    return TOKEN.sub(_without_query, text) if "?" in text else text


def _without_query(token: re.Match[str]) -> str:
    run = token[0]
    slash = run.find("/")
    question = run.find("?", slash) if slash >= 0 else -1
    return run if question < 0 else run[:question]


def install_query_redaction() -> None:
    """Put ``QueryRedaction`` on uvicorn's loggers (once; call after uvicorn configured its logging)."""
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, QueryRedaction) for f in logger.filters):
            logger.addFilter(QueryRedaction())
