"""What a ``linkcast`` subcommand is, and the parser that gathers them.

A command is a module with a ``COMMAND``: its name, its help, the flags it adds and what it runs. It raises typed
errors (``linkcast.cli.errors``, or any ``LinkcastError``) and never prints them: ``linkcast.cli.report`` does.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import NoReturn

from linkcast import __version__
from linkcast.cli.errors import UsageError

HELP_PROG = "help_prog"  # the attribute in which the parsed arguments name the command an unknown flag was given to


@dataclass(frozen=True)
class Command:
    """One ``linkcast <name>``; ``run`` returns the exit status (0 on success) or raises."""

    name: str
    help: str
    add_arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


class Parser(argparse.ArgumentParser):
    """argparse, but a bad command line raises ``UsageError`` (one line) instead of printing the usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see: {self.prog} --help)")

    def parse_command_line(self, argv: Sequence[str] | None) -> argparse.Namespace:
        """``parse_args``, but a flag no parser knows sends to the help of the (sub)command it was given with:
        argparse blames it on ``linkcast`` itself, whose help lists none of the commands' flags."""
        args, unknown = self.parse_known_args(argv)
        if unknown:
            prog = getattr(args, HELP_PROG, self.prog)
            raise UsageError(f"unrecognized arguments: {' '.join(unknown)} (see: {prog} --help)")
        return args


def name_in_usage(parser: argparse.ArgumentParser) -> None:
    """Make ``parser`` (a command's, an action's) the one an unknown flag after it sends to: the innermost given
    wins, since argparse copies a subcommand's values over its parent's."""
    parser.set_defaults(**{HELP_PROG: parser.prog})


def build_parser(commands: Iterable[Command]) -> Parser:
    parser = Parser(prog="linkcast", description="Scrape pages and stream their links live.")
    parser.add_argument("--version", action="version", version=f"linkcast {__version__}")
    subcommands = parser.add_subparsers(title="commands", metavar="COMMAND", required=True)
    for command in commands:
        subparser = subcommands.add_parser(command.name, help=command.help, description=command.help)
        command.add_arguments(subparser)
        subparser.set_defaults(command=command)
        name_in_usage(subparser)
    return parser


def positive_seconds(text: str) -> float:
    """An argparse type: a duration in seconds greater than zero."""
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0 < seconds < float("inf"):
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, not {text}")
    return seconds


def given_id(text: str) -> str:
    """An argparse type for ``--id``: the id as given, never empty (an empty one was taken as none, and a random id
    chosen in its place, which the user could not know to follow)."""
    if not text:
        raise argparse.ArgumentTypeError("is empty: give an id, or leave --id out for a random one")
    return text
