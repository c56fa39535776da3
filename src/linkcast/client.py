"""The CLI's client side: submit a URL and wait for its result; watch the live stream. Both resume after a lost
connection with ``?since=`` so that no event is missed or printed twice."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncGenerator
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson
import websockets

from linkcast.core.events import CLOSE_FORBIDDEN_ORIGIN, CLOSE_UNAUTHORIZED, STREAM_SINCE_HEADER, TERMINAL_TYPES

RECONNECT_DELAYS = (0.2, 0.5, 1.0, 2.0, 5.0)


def reconnect_delay(attempt: int) -> float:
    """Seconds to wait before try number ``attempt + 1`` after a failure: growing, then steady."""
    return RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)]


# Close codes after which reconnecting is pointless: the server refuses this client.
FINAL_CLOSE_CODES = frozenset({CLOSE_UNAUTHORIZED, CLOSE_FORBIDDEN_ORIGIN})


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def _stream_url(server: str, since: int | None, request_ids: list[str] | None) -> str:
    query: list[tuple[str, str]] = [("request_id", rid) for rid in request_ids or []]
    if since is not None:
        query.append(("since", str(since)))
    base = server.rstrip("/").replace("http://", "ws://", 1).replace("https://", "wss://", 1)
    return f"{base}/scraped_urls" + (f"?{urlencode(query)}" if query else "")


async def events(
    server: str,
    token: str,
    request_ids: list[str] | None,
    since: int | None,
    connected: asyncio.Event | None = None,
) -> AsyncGenerator[dict[str, Any], None]:
    """Every event of the stream, once each, reconnecting with ``since`` after a lost connection.

    ``since`` is the last id seen; before any event, the id the server said the first connection started after, so
    that events published while this client was away are replayed even if it had seen none.
    """
    attempt = 0
    while True:
        try:
            url = _stream_url(server, since, request_ids)
            async with websockets.connect(url, additional_headers=_headers(token), max_size=None) as ws:
                attempt = 0
                if since is None and ws.response is not None:
                    started_after = ws.response.headers.get(STREAM_SINCE_HEADER, "")
                    since = int(started_after) if started_after.isdigit() else None
                if connected is not None:
                    connected.set()
                async for message in ws:
                    event = orjson.loads(message)
                    event_id = event.get("id")
                    if isinstance(event_id, int):
                        if since is not None and event_id <= since:
                            continue  # already printed: the server never repeats one, but be sure
                        since = event_id
                    yield event
            print("linkcast: the server closed the stream, reconnecting", file=sys.stderr)
        except websockets.InvalidStatus as error:
            if 400 <= error.response.status_code < 500:
                raise SystemExit(f"linkcast: the stream refused us: {error.response.body!r}") from None
            print(f"linkcast: the stream answered {error.response.status_code}, retrying", file=sys.stderr)
        except websockets.ConnectionClosed as closed:
            if closed.rcvd is not None and closed.rcvd.code in FINAL_CLOSE_CODES:
                raise SystemExit(f"linkcast: the stream closed: {closed.rcvd.reason}") from None
            reason = closed.rcvd.reason if closed.rcvd is not None else "connection lost"
            print(f"linkcast: {reason or 'stream closed'}, reconnecting", file=sys.stderr)
        except (OSError, TimeoutError, websockets.InvalidHandshake) as error:
            print(f"linkcast: cannot reach the stream ({error}), retrying", file=sys.stderr)
        delay = reconnect_delay(attempt)
        attempt += 1
        await asyncio.sleep(delay)


async def _put(session: aiohttp.ClientSession, args: argparse.Namespace) -> dict[str, Any]:
    """PUT the request, retrying while the server cannot be reached or is restarting (503).

    Safe to repeat: the request id is chosen before the first try, and a PUT with the same id and URL is idempotent.
    """
    url = f"{args.server.rstrip('/')}/urls/{args.request_id}"
    attempt = 0
    while True:
        try:
            async with session.put(url, json={"url": args.url}, headers=_headers(args.token)) as response:
                body: dict[str, Any] = await response.json(content_type=None)
                if response.status < 400:
                    return body
                error = body.get("error", {}) if isinstance(body, dict) else {}
                if response.status != 503:
                    raise SystemExit(f"linkcast: {response.status} {error.get('code')}: {error.get('message')}")
                reason = f"{error.get('code')}: {error.get('message')}"
        except (aiohttp.ClientConnectionError, aiohttp.ContentTypeError, TimeoutError) as failure:
            reason = str(failure) or type(failure).__name__
        delay = reconnect_delay(attempt)
        attempt += 1
        print(f"linkcast: submitting failed ({reason}), retrying in {delay:g} s", file=sys.stderr)
        await asyncio.sleep(delay)


async def submit_and_wait(args: argparse.Namespace) -> int:
    """Submit, then wait on the stream for the request's terminal event; exit 0 for a result, 1 for an error.

    Both halves survive a server restart: the PUT is retried, the stream resumes with ``since``.
    """
    import uuid

    args.request_id = args.request_id or uuid.uuid4().hex
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30, sock_connect=10)) as session:
        # since=0 replays this request's history too, so a result that lands before we listen is still seen.
        stream = events(args.server, args.token, [args.request_id], 0)
        try:
            async with asyncio.timeout(args.timeout):
                first = asyncio.ensure_future(anext(stream))
                await _put(session, args)
                event = await first
                while event.get("type") not in TERMINAL_TYPES:
                    event = await anext(stream)
        except TimeoutError:
            print(f"linkcast: no result within {args.timeout:g} s", file=sys.stderr)
            return 2
        finally:
            await stream.aclose()
    if args.json:
        sys.stdout.write(orjson.dumps(event, option=orjson.OPT_INDENT_2).decode() + "\n")
    elif event["type"] == "result":
        sys.stdout.write("".join(f"{link}\n" for link in event["links"]))
    if event["type"] == "error":
        error = event["error"]
        print(f"linkcast: {error['code']}: {error['message']}", file=sys.stderr)
        return 1
    return 0


def describe(event: dict[str, Any]) -> str:
    """One readable line per event."""
    kind = event.get("type", "?")
    head = f"{event.get('id', '-'):>8} {kind:<9} {event.get('request_id', ''):<20} {event.get('url', '')}"
    if kind == "result":
        return f"{head}  -> {event.get('status_code')} {len(event.get('links', []))} links"
    if kind == "error":
        error = event.get("error", {})
        return f"{head}  !! {error.get('code')}: {error.get('message')}"
    if kind == "history_truncated":
        return f"{'':>8} {kind}: {event.get('message')}"
    return head


async def watch(args: argparse.Namespace) -> int:
    async for event in events(args.server, args.token, args.request_ids, args.since):
        line = orjson.dumps(event).decode() if args.json else describe(event)
        print(line, flush=True)
    return 0
