"""``linkcast feeds``: watch a feed (``add``), see every feed watched (``list``), stop watching one (``rm``), and OPML
lists in (``import``) and out (``export``). The entries arrive on the stream: ``linkcast watch --feeds``.

``add`` chooses the feed's id before the first try (``--id``, else a random one), as ``crawl`` does, so that its PUT
can be sent again after a lost connection and watch nothing twice; the same command with the same id and options
later answers the feed already there. Every command's calls have ``api.CALL_TIMEOUT`` to be answered, retries
included.

Exit statuses: 0 done; 1 the server refused (its code: ``invalid_url``, ``no_feed_found``, ``not_found`` for an id it
does not know, ``invalid_opml``...), a file that cannot be read or written, or an import that left some feeds out
(``import_incomplete``: the summary on stdout says which and why); 2 a bad flag; 3 the server unreachable, or not
answering in time.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from linkcast.cli import api
from linkcast.cli.command import Command, given_id, name_in_usage
from linkcast.cli.endpoint import Endpoint, add_endpoint_arguments, endpoint_from_args
from linkcast.cli.errors import ImportIncomplete, ServerError, UnreadableFile, UnwritableFile
from linkcast.cli.feeds_output import ImportOutcome, feed_table
from linkcast.cli.report import EXIT_OK, say
from linkcast.core.feeds import WATCH_LINKS
from linkcast.feeds.opml import MAX_OPML_BYTES

PAGE_SIZE = "1000"  # feeds per GET /feeds: the most the server gives at once
OPML_TYPE = "text/x-opml"
STDIN = "-"
NO_FEED_FOUND = "no_feed_found"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_endpoint_arguments(parser)  # before the action (linkcast feeds --server URL list) or after it
    actions = parser.add_subparsers(title="actions", metavar="ACTION", required=True)
    add = action(actions, "add", "watch a feed, or a site (its feed is found): print its id and feed URL", add_feed)
    add.add_argument("url", metavar="URL", help="the feed's URL, or a page that names its feed")
    add.add_argument("--id", dest="feed_id", type=given_id, metavar="ID", help="the feed's id (default: a random one)")
    add.add_argument("--follow", action="store_true", help="also fetch each new entry's page, as submit does")
    add.add_argument("--watch-links", action="store_true", help="watch the page itself: each new link is an entry")
    add.add_argument("--json", action="store_true", help="print the server's answer as JSON")
    listing = action(actions, "list", "list the feeds: id, state, title, entries, last and next poll", list_feeds)
    listing.add_argument("--json", action="store_true", help="print each feed's record as one line of JSON")
    remove = action(actions, "rm", "stop watching a feed", remove_feed)
    remove.add_argument("feed_id", metavar="ID", help="the feed's id")
    remove.add_argument("--json", action="store_true", help="print the removed feed's record as JSON")
    opml_in = action(actions, "import", "watch every feed of an OPML list; count added, existing, failed", import_list)
    opml_in.add_argument("file", metavar="FILE", help=f"an OPML file ({STDIN}: stdin)")
    opml_in.add_argument("--json", action="store_true", help="print the server's answer as JSON")
    opml_out = action(actions, "export", "write every feed as an OPML list", export_list)
    opml_out.add_argument("-o", "--output", metavar="FILE", help="write it to FILE (default: stdout)")


def action(
    actions: argparse._SubParsersAction,  # type: ignore[type-arg]
    name: str,
    help: str,
    run: Callable[[argparse.Namespace], int],
) -> argparse.ArgumentParser:
    parser: argparse.ArgumentParser = actions.add_parser(name, help=help, description=help)
    parser.set_defaults(action=run)
    name_in_usage(parser)
    add_endpoint_arguments(parser, default=argparse.SUPPRESS)
    return parser


def run(args: argparse.Namespace) -> int:
    status: int = args.action(args)
    return status


def add_feed(args: argparse.Namespace) -> int:
    feed_id = args.feed_id or uuid.uuid4().hex
    body: dict[str, Any] = {"url": args.url, "follow": args.follow}
    if args.watch_links:
        body["watch"] = WATCH_LINKS
    endpoint = endpoint_from_args(args)
    try:
        answer = asyncio.run(one_call(endpoint, f"watch feed {feed_id}", "PUT", "feeds", feed_id, body=body))
    except ServerError as refused:
        if refused.code != NO_FEED_FOUND:
            raise
        # The server's advice is the API's ("watch": "links"): the flag that says it here is --watch-links.
        advice = f"{refused.message} (linkcast feeds add --watch-links)"
        raise ServerError(refused.status, refused.code, advice) from None
    if answer.get("status") != "accepted":
        say(f"feed {feed_id} was watched already ({answer.get('state')}): nothing changed")
    elif answer.get("watch") == WATCH_LINKS and not args.watch_links:
        say("the page names no feed but a WebSub hub: it is watched for its links, each new one an entry")
    print(as_json(answer) if args.json else f"{answer.get('feed_id')}\t{answer.get('url')}")
    return EXIT_OK


def list_feeds(args: argparse.Namespace) -> int:
    records = asyncio.run(every_feed(endpoint_from_args(args)))
    if args.json:
        sys.stdout.write("".join(as_json(record) + "\n" for record in records))
    elif records:
        print("\n".join(feed_table(records, time.time())))
    else:
        say("no feeds watched")
    return EXIT_OK


def remove_feed(args: argparse.Namespace) -> int:
    endpoint = endpoint_from_args(args)
    record = asyncio.run(one_call(endpoint, f"remove feed {args.feed_id}", "DELETE", "feeds", args.feed_id))
    print(as_json(record) if args.json else f"removed feed {record.get('feed_id')}: {record.get('url')}")
    return EXIT_OK


def import_list(args: argparse.Namespace) -> int:
    opml = read_list(args.file)
    source = "stdin" if args.file == STDIN else args.file  # "1 of the 2 feeds of -" named no file
    try:
        answer = asyncio.run(post_list(endpoint_from_args(args), opml))
    except ServerError as refused:
        if refused.status not in (400, 413):
            raise
        raise ServerError(refused.status, refused.code, f"{source}: {refused.message}") from None
    outcome = ImportOutcome.of(answer)
    print(as_json(answer) if args.json else "\n".join(outcome.lines()))
    if outcome.failures:
        total = outcome.added + outcome.existing + len(outcome.failures)
        raise ImportIncomplete(f"{len(outcome.failures)} of the {total} feeds of {source} are not watched")
    return EXIT_OK


def export_list(args: argparse.Namespace) -> int:
    opml = asyncio.run(fetch_export(endpoint_from_args(args)))
    if args.output is None:
        sys.stdout.buffer.write(opml)
        sys.stdout.buffer.flush()
        return EXIT_OK
    try:
        Path(args.output).write_bytes(opml)
    except OSError as failure:
        raise UnwritableFile(f"cannot write {args.output}: {failure.strerror or failure}") from None
    return EXIT_OK


def read_list(path: str) -> bytes:
    """The OPML file's bytes, at most what the server takes (a larger one, or /dev/zero, is refused here)."""
    try:
        if path == STDIN:
            opml = sys.stdin.buffer.read(MAX_OPML_BYTES + 1)
        else:
            with open(path, "rb") as file:
                opml = file.read(MAX_OPML_BYTES + 1)
    except OSError as failure:
        raise UnreadableFile(f"cannot read {path}: {failure.strerror or failure}") from None
    if len(opml) > MAX_OPML_BYTES:
        raise UnreadableFile(f"{path} is larger than {MAX_OPML_BYTES} bytes, the most an OPML list may have")
    if not opml:
        raise UnreadableFile(f"{path} is empty: an OPML list was expected")
    return opml


def as_json(value: Any) -> str:
    return orjson.dumps(value).decode()


async def one_call(endpoint: Endpoint, what: str, method: str, *segments: str, body: Any = None) -> Any:
    async with api.within(what) as session:
        return await api.call(session, endpoint, method, *segments, json=body)


async def every_feed(endpoint: Endpoint) -> list[dict[str, Any]]:
    """Every feed's record, in the order they were added, a page at a time."""
    records: list[dict[str, Any]] = []
    query = {"limit": PAGE_SIZE}
    async with api.within("list the feeds") as session:
        while True:
            page = await api.call(session, endpoint, "GET", "feeds", query=query)
            records += page.get("feeds", [])
            if page.get("next") is None:
                return records
            query = {"limit": PAGE_SIZE, "after": str(page["next"])}


async def post_list(endpoint: Endpoint, opml: bytes) -> dict[str, Any]:
    async with api.within("import the list") as session:
        answer: dict[str, Any] = await api.call(
            session, endpoint, "POST", "feeds", "import", data=opml, content_type=OPML_TYPE
        )
        return answer


async def fetch_export(endpoint: Endpoint) -> bytes:
    async with api.within("export the feeds") as session:
        status, opml = await api.send(session, endpoint, "GET", "feeds", "export.opml")
    if not opml.lstrip(b"\xef\xbb\xbf \t\r\n").startswith((b"<?xml", b"<opml")):
        # Another server's page, written out as the list and exit 0, would be found only when imported again.
        url = api.request_url(endpoint, ("feeds", "export.opml"), None)
        raise ServerError(
            status, "not_linkcast", f"the answer to GET {url} is not OPML: is --server a linkcast server?"
        )
    return opml


COMMAND = Command("feeds", "watch feeds: add, list, rm, import and export (OPML)", add_arguments, run)
