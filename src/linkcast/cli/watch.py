"""``linkcast watch``: print the live event stream, one line per event, until interrupted."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from typing import Any

import orjson

from linkcast.cli.command import Command
from linkcast.cli.crawl_counts import describe_counts
from linkcast.cli.endpoint import Endpoint, add_endpoint_arguments, endpoint_from_args
from linkcast.cli.stream import events
from linkcast.core.crawls import CRAWL_ACCEPTED, CRAWL_DONE_EVENT, CRAWL_PROGRESS, PAGE, SKIPPED


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_endpoint_arguments(parser)
    parser.add_argument(
        "--request-id", action="append", dest="request_ids", default=[], help="only this request (repeatable)"
    )
    parser.add_argument("--since", type=int, help="first replay the events after this id (0: every retained one)")
    parser.add_argument("--json", action="store_true", help="print each event as one line of JSON")


def run(args: argparse.Namespace) -> int:
    asyncio.run(watch(endpoint_from_args(args), args.request_ids, args.since, args.json))
    return 0


async def watch(endpoint: Endpoint, request_ids: list[str], since: int | None, as_json: bool) -> None:
    async with contextlib.aclosing(events(endpoint, request_ids, since)) as stream:
        async for event in stream:
            print(orjson.dumps(event).decode() if as_json else describe(event), flush=True)


def describe(event: dict[str, Any]) -> str:
    """One readable line per event: a page's outcome, a crawl's counts."""
    kind = event.get("type", "?")
    head = f"{event.get('id', '-'):>8} {kind:<9} {event.get('request_id', ''):<20} {event.get('url', '')}"
    if kind in ("result", PAGE) and "error" not in event:
        return f"{head}  -> {event.get('status_code')} {len(event.get('links', []))} links"
    if kind in ("error", PAGE):
        error = event.get("error", {})
        return f"{head}  !! {error.get('code')}: {error.get('message')}"
    if kind == SKIPPED:
        return f"{head}  -- {event.get('reason')}"
    if kind in (CRAWL_ACCEPTED, CRAWL_PROGRESS, CRAWL_DONE_EVENT):  # a crawl's state: its counts
        return f"{head}{event.get('state', '')}: {describe_counts(event.get('counts') or {})}"
    if kind == "history_truncated":
        return f"{'':>8} {kind}: {event.get('message')}"
    if kind == "stream_error":  # the server could not read the log; it closes, and watch resumes with since
        error = event.get("error", {})
        return f"{'':>8} {kind}: {error.get('code')}: {error.get('message')}"
    return head


COMMAND = Command("watch", "print the live event stream until interrupted", add_arguments, run)
