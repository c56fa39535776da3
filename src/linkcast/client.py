"""The CLI's client side: submit a URL and wait for its result; watch the live stream. Both resume after a lost
connection with ``?since=`` so that no event is missed or printed twice."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson

from linkcast.core.events import TERMINAL_TYPES

RECONNECT_DELAYS = (0.2, 0.5, 1.0, 2.0, 5.0)


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


def _stream_url(server: str, since: int | None, request_ids: list[str] | None) -> str:
    query: list[tuple[str, str]] = [("request_id", rid) for rid in request_ids or []]
    if since is not None:
        query.append(("since", str(since)))
    base = server.rstrip("/").replace("http://", "ws://", 1).replace("https://", "wss://", 1)
    return f"{base}/scraped_urls" + (f"?{urlencode(query)}" if query else "")


async def events(
    session: aiohttp.ClientSession,
    server: str,
    token: str,
    request_ids: list[str] | None,
    since: int | None,
    connected: asyncio.Event | None = None,
) -> AsyncIterator[dict[str, Any]]:
    """Every event of the stream, once each, reconnecting with ``since`` after a lost connection."""
    attempt = 0
    while True:
        try:
            url = _stream_url(server, since, request_ids)
            async with session.ws_connect(url, headers=_headers(token), heartbeat=20) as ws:
                attempt = 0
                if connected is not None:
                    connected.set()
                async for message in ws:
                    if message.type != aiohttp.WSMsgType.TEXT:
                        break
                    event = orjson.loads(message.data)
                    if isinstance(event.get("id"), int):
                        since = event["id"]
                    yield event
        except (aiohttp.ClientError, OSError) as error:
            if isinstance(error, aiohttp.WSServerHandshakeError) and 400 <= error.status < 500:
                raise
        delay = RECONNECT_DELAYS[min(attempt, len(RECONNECT_DELAYS) - 1)]
        attempt += 1
        print(f"linkcast: connection lost, reconnecting in {delay:g} s", file=sys.stderr)
        await asyncio.sleep(delay)
        if since is None:
            since = 0 if request_ids else None


async def _put(session: aiohttp.ClientSession, args: argparse.Namespace) -> dict[str, Any]:
    server = args.server.rstrip("/")
    payload = {"url": args.url}
    if args.request_id:
        request = session.put(f"{server}/urls/{args.request_id}", json=payload, headers=_headers(args.token))
    else:
        request = session.post(f"{server}/urls", json=payload, headers=_headers(args.token))
    async with request as response:
        body: dict[str, Any] = await response.json(content_type=None)
        if response.status >= 400:
            error = body.get("error", {})
            raise SystemExit(f"linkcast: {response.status} {error.get('code')}: {error.get('message')}")
        return body


async def submit_and_wait(args: argparse.Namespace) -> int:
    """Submit, then wait on the stream for the request's terminal event; exit 0 for a result, 1 for an error."""
    import uuid

    args.request_id = args.request_id or uuid.uuid4().hex
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_connect=10)) as session:
        connected = asyncio.Event()
        # since=0 replays this request's history too, so a result that lands before we listen is still seen.
        stream = events(session, args.server, args.token, [args.request_id], 0, connected)
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
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None, sock_connect=10)) as session:
        async for event in events(session, args.server, args.token, args.request_ids, args.since):
            line = orjson.dumps(event).decode() if args.json else describe(event)
            print(line, flush=True)
    return 0
