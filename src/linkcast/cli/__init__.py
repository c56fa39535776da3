"""The command line: ``linkcast serve``, ``worker``, ``submit URL``, ``watch``, ``crawl URL`` and ``feeds``.

Each command is a module here with a ``COMMAND`` (``linkcast.cli.command``); listing it in ``COMMANDS`` adds it.
Commands raise typed errors and ``linkcast.cli.report`` turns each into one line on stderr and an exit status:
0 done, 1 refused or failed, 2 bad flags or settings, 3 server unreachable or no result in time, 130 Ctrl-C.
Client commands share the server's address and token (``endpoint``), its HTTP API (``api``) and its event stream,
resumed after a lost connection (``stream``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from linkcast.cli import crawl, feeds, serve, submit, watch, worker
from linkcast.cli.command import Command, build_parser
from linkcast.cli.report import run_reported

__all__ = ["COMMANDS", "main", "run"]

COMMANDS: tuple[Command, ...] = (
    serve.COMMAND, worker.COMMAND, submit.COMMAND, watch.COMMAND, crawl.COMMAND, feeds.COMMAND,
)  # fmt: skip


def main(argv: Sequence[str] | None = None) -> None:
    """The ``linkcast`` entry point: run the command ``argv`` names and exit with its status."""
    sys.exit(run(argv))


def run(argv: Sequence[str] | None = None, commands: Sequence[Command] = COMMANDS) -> int:
    """Run the one of ``commands`` that ``argv`` names; its exit status, any error reported as its one line."""

    def parse_and_run() -> int:
        args = build_parser(commands).parse_args(argv)
        command: Command = args.command
        return command.run(args)

    return run_reported(parse_and_run)
