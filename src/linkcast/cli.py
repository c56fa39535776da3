"""The command line: ``linkcast serve``, ``linkcast worker``, ``linkcast submit URL``, ``linkcast watch``."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from linkcast import __version__
from linkcast.core.errors import LinkcastError
from linkcast.settings import add_settings_arguments, settings_from_args

CLIENT_SERVER_DEFAULT = "http://localhost:8080"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="linkcast", description="Scrape pages and stream their links live.")
    parser.add_argument("--version", action="version", version=f"linkcast {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the API, the WebSocket stream and in-process workers")
    add_settings_arguments(serve)

    worker = commands.add_parser("worker", help="run workers only, sharing a Redis store with API replicas")
    add_settings_arguments(worker)

    submit = commands.add_parser("submit", help="submit a URL, wait for its result, print its links")
    submit.add_argument("url")
    submit.add_argument("--id", dest="request_id", help="request id (default: one chosen by the server)")
    _add_client_arguments(submit)
    submit.add_argument("--json", action="store_true", help="print the whole result event as JSON")
    submit.add_argument("--timeout", type=float, default=120.0, help="seconds to wait for the result")

    watch = commands.add_parser("watch", help="print the live event stream until interrupted")
    _add_client_arguments(watch)
    watch.add_argument("--request-id", action="append", dest="request_ids", help="only this request (repeatable)")
    watch.add_argument("--since", type=int, help="first replay the events after this id")
    watch.add_argument("--json", action="store_true", help="print each event as one line of JSON")

    args = parser.parse_args(argv)
    try:
        _dispatch(args)
    except LinkcastError as error:
        print(f"linkcast: {error.code}: {error.message}", file=sys.stderr)
        sys.exit(1)


def _dispatch(args: argparse.Namespace) -> None:
    if args.command == "serve":
        from linkcast.server import serve as run_server

        run_server(settings_from_args(args))
    elif args.command == "worker":
        from linkcast.server import run_workers

        run_workers(settings_from_args(args))
    elif args.command == "submit":
        from linkcast.client import submit_and_wait

        sys.exit(asyncio.run(submit_and_wait(args)))
    elif args.command == "watch":
        from linkcast.client import watch as watch_stream

        try:
            sys.exit(asyncio.run(watch_stream(args)))
        except KeyboardInterrupt:
            sys.exit(130)


def _add_client_arguments(parser: argparse.ArgumentParser) -> None:
    import os

    parser.add_argument(
        "--server",
        default=os.environ.get("LINKCAST_SERVER", CLIENT_SERVER_DEFAULT),
        help=f"the linkcast server [env LINKCAST_SERVER; default: {CLIENT_SERVER_DEFAULT}]",
    )
    parser.add_argument(
        "--token", default=os.environ.get("LINKCAST_TOKEN", ""), help="bearer token [env LINKCAST_TOKEN]"
    )


def configure_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
