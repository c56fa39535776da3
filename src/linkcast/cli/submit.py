"""``linkcast submit URL``: submit a URL, wait for its result, print its links (or the whole event with ``--json``).

It listens before it submits, with ``since=0`` and the request's id, so the result cannot slip past it however fast
it comes; both halves survive a server restart (the PUT is retried, the stream resumes).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import sys
import uuid
from typing import Any

import orjson

from linkcast.cli import api
from linkcast.cli.command import Command, given_id, positive_seconds
from linkcast.cli.endpoint import Endpoint, add_endpoint_arguments, endpoint_from_args
from linkcast.cli.errors import NoResult, RequestFailed
from linkcast.cli.stream import events
from linkcast.core.events import ERROR, TERMINAL_TYPES


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("url", help="an absolute http:// or https:// URL")
    parser.add_argument("--id", dest="request_id", type=given_id, help="request id (default: a random one)")
    add_endpoint_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print the whole result event as JSON")
    parser.add_argument(
        "--timeout", type=positive_seconds, default=120.0, help="seconds to wait for the result (default: 120)"
    )


def run(args: argparse.Namespace) -> int:
    endpoint = endpoint_from_args(args)
    request_id = args.request_id or uuid.uuid4().hex
    event = asyncio.run(submit_and_wait(endpoint, args.url, request_id, args.timeout))
    if args.json:
        sys.stdout.write(orjson.dumps(event, option=orjson.OPT_INDENT_2).decode() + "\n")
    elif event["type"] != ERROR:
        sys.stdout.write("".join(f"{link}\n" for link in event.get("links", [])))
    sys.stdout.flush()
    if event["type"] == ERROR:
        error = event.get("error") or {}
        raise RequestFailed(str(error.get("message", "")), code=str(error.get("code", "failed")))
    return 0


async def submit_and_wait(endpoint: Endpoint, url: str, request_id: str, timeout: float) -> dict[str, Any]:
    """The request's terminal event (``result`` or ``error``); the first failure of either half ends both."""
    waiting = asyncio.create_task(terminal_event(endpoint, request_id))
    putting = asyncio.create_task(put(endpoint, request_id, url))
    try:
        async with asyncio.timeout(timeout):
            await asyncio.wait({waiting, putting}, return_when=asyncio.FIRST_EXCEPTION)
            for task in (putting, waiting):  # the PUT's answer first: a 409 outranks an old result of the same id
                if task.done():
                    task.result()
            await putting
            return await waiting
    except TimeoutError:
        state = "accepted, still queued or running" if putting.done() else "not accepted"
        raise NoResult(
            f"no result within {timeout:g} s: request {request_id} is {state} "
            f"(follow it: linkcast watch --since 0 --request-id {request_id})"
        ) from None
    finally:
        for task in (waiting, putting):
            task.cancel()
        await asyncio.gather(waiting, putting, return_exceptions=True)


async def put(endpoint: Endpoint, request_id: str, url: str) -> None:
    async with api.session() as session:
        await api.call(session, endpoint, "PUT", "urls", request_id, json={"url": url})


async def terminal_event(endpoint: Endpoint, request_id: str) -> dict[str, Any]:
    # since=0 replays this request's history too, so a result that lands before we listen is still seen.
    async with contextlib.aclosing(events(endpoint, [request_id], since=0)) as stream:
        async for event in stream:
            if event.get("type") in TERMINAL_TYPES:
                return event
    raise AssertionError("the stream ends only by raising")  # pragma: no cover


COMMAND = Command("submit", "submit a URL, wait for its result, print its links", add_arguments, run)
