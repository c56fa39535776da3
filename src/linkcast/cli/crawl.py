"""``linkcast crawl URL [URL ...]``: start a crawl, show it while it runs, sum it up at the end; ``linkcast crawl
--cancel ID`` cancels one.

The crawl's id is chosen before the first try (``--id``, else a random one), so that the PUT that starts it can be
sent again after a lost connection and start nothing new; the same command with the same ``--id`` and options later
follows the crawl already there. Its events are read from the start (``since=0``, this crawl only) and the stream
resumes after a lost connection or a server restart, so every page is shown once. Where the pages, the bar and the
summary go: ``crawl_output``. The crawl is followed for as long as it runs: only the calls that start and cancel it
have a deadline.

Ctrl-C stops following. On a terminal (stdin) it asks whether to cancel the crawl too; otherwise the crawl keeps
running and the one line says how to cancel or follow it. Either way the exit status is 130.

Exit statuses:

- 0: the crawl ran to its end and fetched at least one page (some may have failed: the summary counts them), or
  ``--cancel`` cancelled it (or found it ended already: its line says so).
- 1: the server refused the crawl (a bad option, an id taken by another crawl, a seed it may not fetch: its code and
  message), the crawl fetched no page at all (``nothing_fetched``: every seed failed or robots.txt disallowed it, so
  nothing was crawled), the crawl was cancelled by someone else before its end (``cancelled``), or ``--cancel`` named
  no crawl (``not_found``).
- 2: a bad flag. 3: the server cannot be reached, or did not answer in time. 130: Ctrl-C.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
import uuid
from collections.abc import Iterator
from types import FrameType
from typing import Any

import orjson

from linkcast.cli import api
from linkcast.cli.command import Command, given_id
from linkcast.cli.crawl_counts import CrawlTally, summary
from linkcast.cli.crawl_output import CrawlOutput
from linkcast.cli.endpoint import Endpoint, add_endpoint_arguments, endpoint_from_args
from linkcast.cli.errors import CrawlCancelled, Interrupted, NothingFetched, Terminated
from linkcast.cli.report import EXIT_OK, say
from linkcast.cli.stream import events
from linkcast.core.crawls import CRAWL_DONE_EVENT


def add_arguments(parser: argparse.ArgumentParser) -> None:
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("urls", nargs="*", default=[], metavar="URL", help="where the crawl starts (its seeds)")
    what.add_argument("--cancel", metavar="ID", help="cancel the crawl with this id instead")
    parser.add_argument(
        "--id", dest="crawl_id", type=given_id, metavar="ID", help="the crawl's id (default: a random one)"
    )
    parser.add_argument(
        "--depth", type=int, metavar="N", help="links followed from a seed (server default: 1; 0: seeds only)"
    )
    parser.add_argument(
        "--max-pages", type=int, metavar="N", help="pages fetched in all, seeds included (server default: 100)"
    )
    parser.add_argument("--scope", metavar="SCOPE", help="same-host (default), same-origin, same-site or any")
    parser.add_argument(
        "--include", action="append", default=[], metavar="PATTERN", help="follow only links that match (repeatable)"
    )
    parser.add_argument(
        "--exclude", action="append", default=[], metavar="PATTERN", help="never follow links that match (repeatable)"
    )
    parser.add_argument("--no-robots", action="store_true", help="ignore robots.txt")
    parser.add_argument("--sitemaps", action="store_true", help="also crawl what the seeds' sitemaps list")
    parser.add_argument(
        "--json",
        action="store_true",
        help="print every event of the crawl as one line of JSON (with --cancel: the crawl's record)",
    )
    add_endpoint_arguments(parser)


def crawl_body(args: argparse.Namespace) -> dict[str, Any]:
    """The PUT's body: the seeds and the options given, no more (the server's defaults apply to the others, and it
    judges every value, so that a bad one is its one line with its code, as for any call)."""
    body: dict[str, Any] = {"url": args.urls[0]} if len(args.urls) == 1 else {"urls": args.urls}
    options = {
        "max_depth": args.depth,
        "max_pages": args.max_pages,
        "scope": args.scope,
        "include": args.include or None,
        "exclude": args.exclude or None,
        "respect_robots": False if args.no_robots else None,
        "sitemaps": True if args.sitemaps else None,
    }
    return body | {name: value for name, value in options.items() if value is not None}


def run(args: argparse.Namespace) -> int:
    endpoint = endpoint_from_args(args)
    if args.cancel is not None:
        record = asyncio.run(cancel(endpoint, args.cancel))
        print(orjson.dumps(record).decode() if args.json else summary(args.cancel, record))
        return EXIT_OK
    crawl = Crawl(endpoint, args.crawl_id or uuid.uuid4().hex, args.server)
    try:
        with terminated_as(SigTerm):
            done, tally = asyncio.run(crawl.start_and_follow(crawl_body(args), args.json))
    except KeyboardInterrupt:
        raise crawl.interrupted() from None
    except SigTerm:
        raise crawl.terminated() from None
    return crawl.conclude(done, tally)


class SigTerm(BaseException):
    """SIGTERM arrived while the crawl was followed: a BaseException, as KeyboardInterrupt is, so that no ``except
    Exception`` on the way takes it for an error."""


@contextlib.contextmanager
def terminated_as(error: type[BaseException]) -> Iterator[None]:
    """SIGTERM raises ``error`` inside the block, as SIGINT raises KeyboardInterrupt: by default it ended the process
    with nothing said, and a crawl that keeps running on the server was left unmentioned (``timeout 600 linkcast
    crawl ...`` sends it)."""

    def handler(signum: int, frame: FrameType | None) -> None:
        raise error()

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class Crawl:
    """One crawl as this command runs it; ``accepted`` tells Ctrl-C whether there is a crawl to speak of."""

    def __init__(self, endpoint: Endpoint, crawl_id: str, server_flag: str | None) -> None:
        self.endpoint = endpoint
        self.crawl_id = crawl_id
        self.server_flag = server_flag
        self.accepted = False

    async def start_and_follow(self, body: dict[str, Any], as_json: bool) -> tuple[dict[str, Any], CrawlTally]:
        """Start the crawl, show its events as they come; its ``crawl.done`` and the counts seen."""
        answer = await self.start(body)
        if answer.get("status") != "accepted":
            say(f"crawl {self.crawl_id} was started before ({answer.get('state')}): following it")
        counts = answer.get("counts") or {}
        pages_before = int(counts.get("fetched", 0)) + int(counts.get("failed", 0))
        with CrawlOutput.choose(self.crawl_id, as_json, sys.stdout, sys.stderr, pages_before) as output:
            async with contextlib.aclosing(events(self.endpoint, [self.crawl_id], since=0)) as stream:
                async for event in stream:
                    output.show(event)
                    if event.get("type") == CRAWL_DONE_EVENT:
                        return event, output.tally
        raise AssertionError("the stream ends only by raising")  # pragma: no cover

    async def start(self, body: dict[str, Any]) -> dict[str, Any]:
        late = f"if it did at last: {self.command('crawl --cancel')}"
        async with api.within(f"accept crawl {self.crawl_id}", late) as session:
            answer: dict[str, Any] = await api.call(session, self.endpoint, "PUT", "crawls", self.crawl_id, json=body)
        self.accepted = True
        return answer

    def conclude(self, done: dict[str, Any], tally: CrawlTally) -> int:
        """The exit status of a crawl that has ended (its summary said), or the error it ended in."""
        line = summary(self.crawl_id, done)
        if done.get("cancelled"):
            raise CrawlCancelled(f"{line} (someone cancelled it before its end)")
        if not done["counts"].get("fetched"):
            failures = tally.seed_failures
            more = f" (and {len(failures) - 1} more seeds)" if len(failures) > 1 else ""
            raise NothingFetched(f"crawl {self.crawl_id} fetched no page: {failures[0] if failures else line}{more}")
        say(line)
        return EXIT_OK

    def interrupted(self) -> Interrupted:
        """What Ctrl-C comes to: the crawl cancelled if the user says so on a terminal, else left running."""
        if not self.accepted:
            return Interrupted(
                f"stopped by Ctrl-C before the server answered; if it accepted crawl {self.crawl_id}: "
                f"{self.command('crawl --cancel')}"
            )
        if sys.stdin.isatty() and ask(f"cancel crawl {self.crawl_id}? [y/N] "):
            record = asyncio.run(cancel(self.endpoint, self.crawl_id))
            return Interrupted(summary(self.crawl_id, record))
        return Interrupted(
            f"crawl {self.crawl_id} keeps running: cancel it with {self.command('crawl --cancel')}, "
            f"follow it with {self.command('watch --request-id')}"
        )

    def terminated(self) -> Terminated:
        """What SIGTERM comes to: the crawl left running, and how to cancel or follow it (nobody to ask)."""
        if not self.accepted:
            return Terminated(
                f"stopped before the server answered; if it accepted crawl {self.crawl_id}: "
                f"{self.command('crawl --cancel')}"
            )
        return Terminated(
            f"crawl {self.crawl_id} keeps running: cancel it with {self.command('crawl --cancel')}, "
            f"follow it with {self.command('watch --request-id')}"
        )

    def command(self, words: str) -> str:
        """``linkcast <words> <id>``, with ``--server`` if it was given (never the token: it is a secret)."""
        server = f" --server {self.endpoint.base}" if self.server_flag is not None else ""
        return f"linkcast {words} {self.crawl_id}{server}"


def ask(question: str) -> bool:
    """A yes/no question on the terminal; no unless answered yes (Ctrl-C or end of input: no)."""
    sys.stderr.write(question)
    sys.stderr.flush()
    try:
        answer = sys.stdin.readline()
    except KeyboardInterrupt:
        answer = ""
    if not answer.endswith("\n"):
        sys.stderr.write("\n")
    return answer.strip().lower() in ("y", "yes")


async def cancel(endpoint: Endpoint, crawl_id: str) -> dict[str, Any]:
    """``DELETE /crawls/<id>``: the crawl's record, cancelled (or as it ended, if it had)."""
    async with api.within(f"cancel crawl {crawl_id}") as session:
        record: dict[str, Any] = await api.call(session, endpoint, "DELETE", "crawls", crawl_id)
        return record


COMMAND = Command("crawl", "crawl a site: start it, show its progress, sum it up", add_arguments, run)
