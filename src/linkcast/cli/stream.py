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
                raise ServerError(
                    answer.status_code,
                    "not_linkcast",
                    f"{endpoint.base} answered the stream's handshake with {answer.status_code} "
                    f"{answer.reason_phrase}, not a WebSocket: is --server a linkcast server?",
                ) from None
            error = endpoint.refusal(answer.status_code, bytes(answer.body or b""), answer.reason_phrase)
            if not connected or answer.status_code < 500:
                raise error from None
            lost = f"the stream answered {error.code}: {error.message}"
        except websockets.ConnectionClosed as closed:
            lost = f"the stream was lost ({closed.rcvd.reason if closed.rcvd and closed.rcvd.reason else closed})"
        except (OSError, TimeoutError, websockets.WebSocketException) as failure:
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
