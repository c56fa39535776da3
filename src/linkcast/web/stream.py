"""WebSocket ``/scraped_urls``: replay from ``?since=``, then every live event, filtered by ``?request_id=``."""

from __future__ import annotations

import asyncio
import contextlib

from quart import Blueprint, Response, websocket

from linkcast.core.errors import InvalidInput
from linkcast.core.events import CLOSE_TOO_SLOW
from linkcast.core.inputs import validate_request_id
from linkcast.hub import Subscription
from linkcast.web.app import Runtime, runtime
from linkcast.web.errors import error_response
from linkcast.web.guard import guard

stream = Blueprint("stream", __name__)


def parse_stream_args() -> tuple[int | None, list[str] | None]:
    since_arg = websocket.args.get("since")
    since: int | None = None
    if since_arg is not None:
        if not since_arg.isdigit():
            raise InvalidInput("'since' must be a non-negative integer event id", code="invalid_since")
        since = int(since_arg)
    request_ids = [validate_request_id(value) for value in websocket.args.getlist("request_id")] or None
    return since, request_ids


@stream.websocket("/scraped_urls")
async def scraped_urls() -> Response | None:
    rt = runtime()
    # Token and Origin before anything else, and before accept(): a refused client never sees an event.
    refusal = guard().websocket_refusal(websocket)
    if refusal is not None:
        return refusal
    try:
        since, request_ids = parse_stream_args()
    except InvalidInput as error:
        # Refuse the handshake with an HTTP answer the client can read.
        return error_response(error.http_status, error.code, error.message)
    # Quart completes the handshake only on accept() or the first send: accept first, so clients never hang.
    await websocket.accept()
    async with rt.hub.subscribe(request_ids) as subscription:
        rt.metrics.websocket_clients.inc()
        try:
            await _serve(rt, subscription, since)
        finally:
            rt.metrics.websocket_clients.dec()
    return None


async def _serve(rt: Runtime, subscription: Subscription, since: int | None) -> None:
    sender = asyncio.create_task(_send_events(rt, subscription, since))
    discarder = asyncio.create_task(_discard_incoming())
    too_slow = asyncio.create_task(subscription.too_slow.wait())
    try:
        await asyncio.wait({sender, discarder, too_slow}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (sender, discarder, too_slow):
            task.cancel()
        await asyncio.gather(sender, discarder, too_slow, return_exceptions=True)
    if subscription.too_slow.is_set():
        rt.metrics.slow_clients_dropped.inc()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(
                websocket.close(CLOSE_TOO_SLOW, "too slow: reconnect with ?since=<last id seen>"), 5.0
            )


async def _send_events(rt: Runtime, subscription: Subscription, since: int | None) -> None:
    if since is not None:
        async for frame in rt.hub.replay(subscription, since):
            await websocket.send(frame)
    skip_until = since if since is not None else 0
    while True:
        event = await subscription.queue.get()
        if event.id > skip_until:
            await websocket.send(event.frame)


async def _discard_incoming() -> None:
    """Clients have nothing to say; read and drop what they send so that it never piles up."""
    while True:
        await websocket.receive()
