"""``linkcast watch``: print the live event stream, one line per event, until interrupted; ``--feeds`` keeps the
feeds' events alone (each new entry: feed id, link, title)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import select
import sys
from typing import Any, TextIO

import orjson

from linkcast.cli.command import Command
from linkcast.cli.crawl_counts import describe_counts
from linkcast.cli.endpoint import Endpoint, add_endpoint_arguments, endpoint_from_args
from linkcast.cli.feeds_output import feed_event_detail
from linkcast.cli.stream import events
from linkcast.core.crawls import CRAWL_ACCEPTED, CRAWL_DONE_EVENT, CRAWL_PROGRESS, PAGE, SKIPPED
from linkcast.core.feeds import FEED_ERROR_EVENT
from linkcast.core.webhooks import EVENT_TYPES

FEED_EVENT_PREFIX = "feed."
# The stream's word about itself (events missed, a read that failed): shown whatever is filtered, since it says
# whether what is shown is complete.
STREAM_NOTICES = frozenset({"history_truncated", "stream_error"})
TYPE_WIDTH = max(map(len, EVENT_TYPES))  # every type fits its column ("crawl.progress"), so the next ones line up
READER_CHECK_INTERVAL = 0.5  # seconds between two looks at whether stdout's reader is still there


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_endpoint_arguments(parser)
    parser.add_argument(
        "--request-id",
        action="append",
        dest="request_ids",
        default=[],
        metavar="ID",
        help="only the events of this request, crawl or feed (repeatable)",
    )
    parser.add_argument("--since", type=int, help="first replay the events after this id (0: every retained one)")
    parser.add_argument(
        "--feeds", action="store_true", help="only the feeds' events: each new entry, a feed moved, gone or failing"
    )
    parser.add_argument("--json", action="store_true", help="print each event as one line of JSON")


def run(args: argparse.Namespace) -> int:
    asyncio.run(watch(endpoint_from_args(args), args.request_ids, args.since, args.json, args.feeds))
    return 0


async def watch(
    endpoint: Endpoint, request_ids: list[str], since: int | None, as_json: bool, feeds_only: bool = False
) -> None:
    """Print the events until stopped, or until nobody reads stdout any more (``BrokenPipeError``)."""
    printing = asyncio.ensure_future(print_events(endpoint, request_ids, since, as_json, feeds_only))
    gone = asyncio.ensure_future(reader_gone(sys.stdout))
    try:
        await asyncio.wait({printing, gone}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in (printing, gone):
            task.cancel()
        await asyncio.gather(printing, gone, return_exceptions=True)
    if not printing.cancelled():
        printing.result()  # the stream ends only by raising: its error (a write to the gone reader's, too)
    raise BrokenPipeError("stdout's reader is gone")


async def reader_gone(out: TextIO, interval: float = READER_CHECK_INTERVAL) -> None:
    """Return once nobody can read ``out``: a pipe whose reader has exited (``linkcast watch | head -1``). A write
    would find it out, but on a quiet stream the next write may be hours away, and the pipeline waits for us."""
    try:
        fd = out.fileno()
    except (AttributeError, OSError, ValueError):
        fd = -1
    if fd < 0 or not hasattr(select, "poll"):
        await asyncio.Future()  # nothing to watch: until cancelled
    poller = select.poll()
    poller.register(fd, 0)  # POLLERR (a pipe with no reader) and POLLHUP are reported whatever is asked
    while not poller.poll(0):
        await asyncio.sleep(interval)


async def print_events(
    endpoint: Endpoint, request_ids: list[str], since: int | None, as_json: bool, feeds_only: bool
) -> None:
    async with contextlib.aclosing(events(endpoint, request_ids, since)) as stream:
        async for event in stream:
            if feeds_only and not is_feed_event(event):
                continue  # the stream has no filter by type: a feed's id is all it filters on
            print(orjson.dumps(event).decode() if as_json else describe(event), flush=True)


def is_feed_event(event: dict[str, Any]) -> bool:
    kind = str(event.get("type", ""))
    return kind.startswith(FEED_EVENT_PREFIX) or kind in STREAM_NOTICES


def describe(event: dict[str, Any]) -> str:
    """One readable line per event: a page's outcome, a crawl's counts, a feed's entry."""
    kind = event.get("type", "?")
    where = event.get("url") or event.get("link") or ""  # a feed's entry has a link, no url
    head = f"{event.get('id', '-'):>8} {kind:<{TYPE_WIDTH}} {event.get('request_id', ''):<20} {where}"
    if kind in ("result", PAGE) and "error" not in event:
        return f"{head}  -> {event.get('status_code')} {len(event.get('links', []))} links"
    if kind in ("error", PAGE, FEED_ERROR_EVENT):
        error = event.get("error", {})
        return f"{head}  !! {error.get('code')}: {error.get('message')}"
    if kind == SKIPPED:
        return f"{head}  -- {event.get('reason')}"
    if kind in (CRAWL_ACCEPTED, CRAWL_PROGRESS, CRAWL_DONE_EVENT):  # a crawl's state: its counts
        return f"{head}{event.get('state', '')}: {describe_counts(event.get('counts') or {})}"
    if str(kind).startswith(FEED_EVENT_PREFIX):
        return head + feed_event_detail(event)
    if kind == "history_truncated":
        return f"{'':>8} {kind}: {event.get('message')}"
    if kind == "stream_error":  # the server could not read the log; it closes, and watch resumes with since
        error = event.get("error", {})
        return f"{'':>8} {kind}: {error.get('code')}: {error.get('message')}"
    return head


COMMAND = Command("watch", "print the live event stream until interrupted", add_arguments, run)
