"""WebSocket ``/scraped_urls``: replay from ``?since=``, then every live event, filtered by ``?request_id=``."""

from __future__ import annotations

import asyncio
import contextlib

from quart import Blueprint, Response, websocket

from linkcast.core.errors import InvalidInput
from linkcast.core.events import CLOSE_TOO_SLOW, STREAM_SINCE_HEADER
from linkcast.core.inputs import validate_request_id
from linkcast.frames import FRAMES_PER_WRITE, Frame, wire_batches
from linkcast.hub import Subscription
from linkcast.web.app import Runtime, runtime
from linkcast.web.errors import error_response
from linkcast.web.frame_writer import FRAME_WRITER, FrameWriter
from linkcast.web.guard import guard

stream = Blueprint("stream", __name__)

TOO_SLOW_REASON = "too slow: the client stopped reading; reconnect with ?since=<last id seen>"


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
    async with rt.hub.subscribe(request_ids, since) as subscription:
        # The id this connection delivers everything after: a client that came without ``since`` resumes from it
        # after a lost connection even if it saw no event. Quart completes the handshake only on accept() or the first
        # send: accept first, so clients never hang.
        start = since if since is not None else subscription.live_from
        await websocket.accept(headers={STREAM_SINCE_HEADER: str(start)})
        rt.metrics.websocket_clients.inc()
        try:
            await _serve(rt, subscription, since)
        finally:
            rt.metrics.websocket_clients.dec()
    # Unsubscribed: a dropped client holds no queue while its close frame waits behind the data it did not read.
    if subscription.too_slow.is_set():
        rt.metrics.slow_clients_dropped.inc()
        await _close_too_slow()
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


async def _close_too_slow() -> None:
    """Say why, with a close code of its own: the client knows to reconnect with ``since``.

    The close frame queues behind what the client has not read yet, and the server's send waits for the socket to
    drain (back-pressure), so this returns when the client reads again or its connection ends. It is deliberately not
    cut short: cancelling the close would lose the frame, and the client would see an abnormal closure instead of the
    reason. While it waits, the connection holds only the socket's bounded buffers.
    """
    with contextlib.suppress(Exception):
        await websocket.close(CLOSE_TOO_SLOW, TOO_SLOW_REASON)


def _frame_writer() -> FrameWriter | None:
    """uvicorn's direct writer for this connection (``web/frame_writer.py``); None under another server, or with
    compression on, where frames go one ASGI message each."""
    writer = websocket.scope.get("extensions", {}).get(FRAME_WRITER)
    return writer if isinstance(writer, FrameWriter) else None


async def _send_events(rt: Runtime, subscription: Subscription, since: int | None) -> None:
    writer = _frame_writer()

    async def send(frames: list[Frame]) -> None:
        if writer is not None:
            for _, wire in wire_batches(frames):
                await writer.write(wire)
        else:
            for frame in frames:
                await websocket.send(frame.text)

    if since is not None:
        async for page in rt.hub.replay(subscription, since):
            await send(page)
    if writer is not None:
        # Caught up: from now on the hub writes live frames itself whenever nothing is queued before them.
        subscription.direct = writer.write_now
    queue = subscription.queue
    while True:  # what the socket could not take at once (and, before the switch above, what came during replay)
        batch = [await queue.get()]
        subscription.sending = True
        try:
            while len(batch) < FRAMES_PER_WRITE and not queue.empty():
                batch.append(queue.get_nowait())
            await send(batch)
        finally:
            subscription.sending = False
        if len(batch) == FRAMES_PER_WRITE:  # more may be waiting: let the other clients have the loop first
            await asyncio.sleep(0)


async def _discard_incoming() -> None:
    """Clients have nothing to say; read and drop what they send so that it never piles up."""
    while True:
        await websocket.receive()
