"""Every command ``linkcast`` has, and running the one its command line names (``linkcast.cli.main`` loads this)."""

from __future__ import annotations

from collections.abc import Sequence

from linkcast.cli import crawl, feeds, serve, submit, watch, worker
from linkcast.cli.command import Command, build_parser
from linkcast.cli.report import run_reported

__all__ = ["COMMANDS", "run"]

COMMANDS: tuple[Command, ...] = (
    serve.COMMAND, worker.COMMAND, submit.COMMAND, watch.COMMAND, crawl.COMMAND, feeds.COMMAND,
)  # fmt: skip


def run(argv: Sequence[str] | None = None, commands: Sequence[Command] = COMMANDS) -> int:
    """Run the one of ``commands`` that ``argv`` names; its exit status, any error reported as its one line."""

    def parse_and_run() -> int:
        args = build_parser(commands).parse_command_line(argv)
        command: Command = args.command
        return command.run(args)

    return run_reported(parse_and_run)
