"""WebSocket ``/scraped_urls``: replay from ``?since=``, then every live event, filtered by ``?request_id=``."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import orjson
from quart import Blueprint, Response, websocket
from uvicorn.protocols.utils import ClientDisconnected

from linkcast.core.errors import InvalidInput, LinkcastError, StoreUnavailable
from linkcast.core.events import CLOSE_INTERNAL_ERROR, CLOSE_TRY_AGAIN_LATER, STREAM_SINCE_HEADER
from linkcast.core.inputs import validate_since, validate_stream_filters
from linkcast.frames import FRAMES_PER_WRITE, Frame, wire_batches
from linkcast.hub import Hub, Subscription
from linkcast.replay_budget import ReplayBusy
from linkcast.runtime import Runtime
from linkcast.store.base import Store
from linkcast.web.current import runtime
from linkcast.web.frame_writer import FRAME_WRITER, FrameWriter
from linkcast.web.guard import guard

stream = Blueprint("stream", __name__)
log = logging.getLogger(__name__)


def parse_stream_args() -> tuple[int | None, list[str] | None]:
    since_arg = websocket.args.get("since")
    since = validate_since(since_arg) if since_arg is not None else None
    request_ids = validate_stream_filters(websocket.args.getlist("request_id")) or None
    return since, request_ids


async def check_since_exists(since: int | None, hub: Hub, store: Store) -> None:
    """Refuse a ``since`` past the newest event: it names nothing this server gave, and the client would wait in
    silence (its ids come from another deployment, or from a log that was reset).

    This process's hub may lag the log (another replica can have delivered a newer event), so only the store's
    answer refuses, and it is asked only when ``since`` is past the hub.
    """
    if since is None or since <= hub.position:
        return
    newest = await store.last_event_id()
    if since > newest:
        raise InvalidInput(
            f"since={since} is past the newest event ({newest}): no event after it exists yet; "
            "resume from an id this server sent (since=0 replays every retained event)",
            code="since_ahead",
        )


@stream.websocket("/scraped_urls")
async def scraped_urls() -> Response | None:
    rt = runtime()
    # Host, token and Origin before anything else, and before accept(): a refused client never sees an event. A
    # refusal (raised) is answered by the app's error handler as an HTTP answer to the handshake, which the client
    # can read; so is a store that cannot say its newest id (503).
    guard().check_websocket(websocket)
    since, request_ids = parse_stream_args()
    hub = rt.hub
    assert hub is not None, "a serving process's runtime has a hub"
    await check_since_exists(since, hub, rt.store)
    async with hub.subscribe(request_ids, since) as subscription:
        # The id this connection delivers everything after: a client that came without ``since`` resumes from it
        # after a lost connection even if it saw no event. Quart completes the handshake only on accept() or the first
        # send: accept first, so clients never hang.
        start = since if since is not None else subscription.live_from
        await websocket.accept(headers={STREAM_SINCE_HEADER: str(start)})
        rt.metrics.websocket_clients.inc()
        try:
            failure = await _serve(rt, subscription, since)
        finally:
            rt.metrics.websocket_clients.dec()
    # Unsubscribed: a dropped client holds no queue while its close frame waits behind the data it did not read.
    if failure is not None:
        await _close_failed(failure)
    elif subscription.dropped.is_set():
        if subscription.too_slow:
            rt.metrics.slow_clients_dropped.inc()
        await _close(subscription.close_code, subscription.close_reason)
    return None


async def _serve(rt: Runtime, subscription: Subscription, since: int | None) -> LinkcastError | None:
    """Send until the client leaves or is dropped; the store's error if the events could not be read."""
    sender = asyncio.create_task(_send_events(rt, subscription, since))
    discarder = asyncio.create_task(_discard_incoming())
    dropped = asyncio.create_task(subscription.dropped.wait())
    try:
        await asyncio.wait({sender, discarder, dropped}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (sender, discarder, dropped):
            task.cancel()
        await asyncio.gather(sender, discarder, dropped, return_exceptions=True)
    error = None if sender.cancelled() else sender.exception()
    if error is None or isinstance(error, LinkcastError):
        return error
    if isinstance(error, OSError | ClientDisconnected):
        return None  # the client went away
    log.error("sending events to a WebSocket client failed", exc_info=error)
    return LinkcastError(f"the events could not be sent: {type(error).__name__}", code="replay_failed")


async def _close_failed(error: LinkcastError) -> None:
    """The events could not be read (the store is down, or its pages corrupt, or the replay budget is taken): say so
    in a frame, then close with 1013 (try again later) for an outage or a busy budget, 1011 otherwise; never a normal
    close after a silent gap."""
    log.warning("a WebSocket replay failed: %s: %s", error.code, error.message)
    notice = orjson.dumps({"type": "stream_error", "error": error.to_dict()}).decode()
    with contextlib.suppress(Exception):
        await websocket.send(notice)
    code = CLOSE_TRY_AGAIN_LATER if isinstance(error, StoreUnavailable | ReplayBusy) else CLOSE_INTERNAL_ERROR
    await _close(code, f"{error.code}: reconnect with ?since=<last id seen>")


async def _close(code: int, reason: str) -> None:
    """Close with a code that says why: the client knows to reconnect with ``since``.

    The close frame queues behind what the client has not read yet, and the server's send waits for the socket to
    drain (back-pressure), so this returns when the client reads again or its connection ends. It is deliberately not
    cut short: cancelling the close would lose the frame, and the client would see an abnormal closure instead of the
    reason. While it waits, the connection holds only the socket's bounded buffers.
    """
    with contextlib.suppress(Exception):
        await websocket.close(code, reason)


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
        assert rt.hub is not None
        pages = rt.hub.replay(subscription, since)
        try:
            while True:
                # A page is read, sent and taken by the client within its share of the process's replay memory.
                async with rt.hub.replay_budget.page():
                    page = await anext(pages, None)
                    if page is None:
                        break
                    await send(page)
                    # Written: the socket's buffer holds the page's bytes; its text and frames go now, not once the
                    # client has read them all (a client that stops reading would hold three copies of its share).
                    del page
                    if writer is not None:
                        await writer.drained()
        finally:
            await pages.aclose()
    if writer is not None:
        # Caught up: from now on the hub writes live frames itself whenever nothing is queued before them.
        subscription.direct = writer.write_now
    while True:  # what the socket could not take at once (and, before the switch above, what came during replay)
        batch = await subscription.take(FRAMES_PER_WRITE)
        subscription.sending = True
        try:
            await send(batch)
        finally:
            subscription.sending = False
        if len(batch) == FRAMES_PER_WRITE:  # more may be waiting: let the other clients have the loop first
            await asyncio.sleep(0)


async def _discard_incoming() -> None:
    """Clients have nothing to say; read and drop what they send so that it never piles up."""
    while True:
        await websocket.receive()
