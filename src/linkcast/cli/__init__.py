"""The command line: ``linkcast serve``, ``worker``, ``submit URL``, ``watch``, ``crawl URL`` and ``feeds``.

Each command is a module here with a ``COMMAND`` (``linkcast.cli.command``); listing it in ``commands.COMMANDS``
adds it. Commands raise typed errors and ``linkcast.cli.report`` turns each into one line on stderr and an exit status:
0 done, 1 refused or failed, 2 bad flags or settings, 3 server unreachable or no result in time, 130 Ctrl-C.
Client commands share the server's address and token (``endpoint``), its HTTP API (``api``) and its event stream,
resumed after a lost connection (``stream``).

This module imports nothing of them itself: ``main`` loads them (half a second, more on a busy machine) where a Ctrl-C
is still the command's one line, not a traceback of the import it stopped.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

__all__ = ["COMMANDS", "main", "run"]

INTERRUPTED_LINE = "linkcast: interrupted: stopped by Ctrl-C\n"  # report.report(Interrupted(...)), before it loads
EXIT_INTERRUPTED = 130


def main(argv: Sequence[str] | None = None) -> None:
    """The ``linkcast`` entry point: run the command ``argv`` names and exit with its status."""
    try:
        from linkcast.cli.commands import run
    except KeyboardInterrupt:
        sys.stderr.write(INTERRUPTED_LINE)
        sys.exit(EXIT_INTERRUPTED)
    sys.exit(run(argv))


def __getattr__(name: str) -> Any:
    """``COMMANDS`` and ``run``, from ``commands``, loaded when asked for."""
    if name in ("COMMANDS", "run"):
        from linkcast.cli import commands

        return getattr(commands, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
