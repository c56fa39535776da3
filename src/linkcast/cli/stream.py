"""The event stream as client commands read it: every event once, in order, resuming with ``since`` after a lost
connection, so that a server restart (or a move to another replica) costs a client nothing."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, Callable, Sequence
from typing import Any

import orjson
import websockets
from websockets.asyncio.client import ClientConnection

from linkcast.cli.endpoint import Endpoint, describe_failure, reconnect_delay
from linkcast.cli.errors import ServerError, Unreachable
from linkcast.cli.report import say
from linkcast.core.events import STREAM_SINCE_HEADER

OPEN_TIMEOUT = 10.0  # seconds for a connection and its handshake


async def events(
    endpoint: Endpoint,
    request_ids: Sequence[str] = (),
    since: int | None = None,
    notice: Callable[[str], None] = say,
) -> AsyncGenerator[dict[str, Any], None]:
    """Every event of the stream (after ``since``, of ``request_ids`` if any), each once, until the caller stops.

    The first connection must succeed: a server that cannot be reached (``Unreachable``) or that refuses the handshake
    (``ServerError``: ``invalid_since``, ``since_ahead``, ``unauthorized``...) ends the stream at once, as an error
    the caller reports. Once connected, a lost connection or a server error (5xx) is retried with growing delays,
    resuming after the last id seen; a refusal (4xx) still ends it. ``notice`` hears of each loss and recovery.

    Read it from one task, and close it with ``contextlib.aclosing``.
    """
    connected = False
    failures = 0
    while True:
        url = endpoint.stream_url(since, request_ids)
        try:
            async with websockets.connect(
                url, additional_headers=endpoint.headers, open_timeout=OPEN_TIMEOUT, max_size=None
            ) as ws:
                if failures:
                    notice("reconnected")
                connected, failures = True, 0
                since = resume_point(ws, since)
                async for message in ws:
                    event: dict[str, Any] = orjson.loads(message)
                    event_id = event.get("id")
                    if isinstance(event_id, int):
                        if since is not None and event_id <= since:
                            continue  # already delivered: the server never repeats one, but be sure
                        since = event_id
                    yield event
                why = " ".join(str(part) for part in (ws.close_code, ws.close_reason) if part)
                lost = f"the server closed the stream ({why or 'no reason given'})"
        except websockets.InvalidStatus as refused:
            answer = refused.response
            if answer.status_code < 400:  # linkcast answers a handshake with 101 or an error: this is a web page
                status = answer.status_code
                raise not_a_stream(endpoint, status, f"{status} {answer.reason_phrase}") from None
            error = endpoint.refusal(answer.status_code, bytes(answer.body or b""), answer.reason_phrase)
            if not connected or answer.status_code < 500:
                raise error from None
            lost = f"the stream answered {error.code}: {error.message}"
        except websockets.ConnectionClosed as closed:
            lost = f"the stream was lost ({closed.rcvd.reason if closed.rcvd and closed.rcvd.reason else closed})"
        except (OSError, TimeoutError, websockets.WebSocketException) as failure:
            answered = other_http_answer(failure)
            if answered is not None:
                raise not_a_stream(endpoint, *answered) from None
            if not connected:
                raise Unreachable(f"cannot connect to {endpoint.base}: {describe_failure(failure)}") from None
            lost = f"cannot reach the stream ({describe_failure(failure)})"
        if failures == 0:
            notice(f"{lost}; reconnecting" + (f" with since={since}" if since is not None else ""))
        await asyncio.sleep(reconnect_delay(failures))
        failures += 1


def resume_point(ws: ClientConnection, since: int | None) -> int | None:
    """Where to resume after a loss: ``since``, or before any event, the id the server said this connection starts
    after, so that events published while the client was away are replayed even if it had seen none."""
    if since is not None or ws.response is None:
        return since
    started_after = ws.response.headers.get(STREAM_SINCE_HEADER, "")
    return int(started_after) if started_after.isascii() and started_after.isdigit() else None


def other_http_answer(failure: BaseException) -> tuple[int, str] | None:
    """The status and status line of an answer in another version of HTTP, which websockets refuses as no valid
    answer (an HTTP/1.0 server's page: ``python -m http.server``); None for any other failure. Such a server speaks
    HTTP, so ``--server`` names the wrong server, not a port with nothing behind it."""
    cause = failure.__cause__ if isinstance(failure, websockets.InvalidMessage) else None
    line = str(cause).partition("expected HTTP/1.1: ")[2] if isinstance(cause, ValueError) else ""
    if not line.startswith("HTTP/"):
        return None
    status = line.split(" ", 2)[1:2]
    return (int(status[0]) if status and status[0].isdigit() else 0), line


def not_a_stream(endpoint: Endpoint, status: int, answer: str) -> ServerError:
    """A web server's answer where linkcast's stream should be: ``answer`` is what it said (its status line)."""
    return ServerError(
        status,
        "not_linkcast",
        f"{endpoint.base} answered the stream's handshake with {answer}, not a WebSocket: "
        "is --server a linkcast server?",
    )
