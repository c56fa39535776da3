"""What the CLI says on stderr: the one place an error becomes one line and an exit status, and the notices of a
command that keeps going (a stream reconnecting).

An error is always exactly one line, ``linkcast: <code>: <message>``, never a traceback, so that scripts can read it
and people are not left to dig for it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable

from linkcast.cli.errors import Interrupted, NoResult, Terminated, Unreachable, UsageError
from linkcast.core.errors import ConfigurationError, LinkcastError

EXIT_OK = 0
EXIT_FAILED = 1  # the server refused the call, or the request ended in an error event
EXIT_USAGE = 2  # a flag or LINKCAST_* value the command cannot take (argparse's own status for usage errors)
EXIT_UNAVAILABLE = 3  # nothing came back: the server could not be reached, or the result did not come in time
EXIT_INTERRUPTED = 130  # Ctrl-C: 128 + SIGINT, as shells report a process stopped by it
EXIT_TERMINATED = 143  # SIGTERM: 128 + 15, as shells report a process it stopped
EXIT_BROKEN_PIPE = 141  # stdout closed by its reader (`linkcast watch | head`): 128 + SIGPIPE, as `yes | head`

EXIT_STATUSES: dict[type[LinkcastError], int] = {
    UsageError: EXIT_USAGE,
    ConfigurationError: EXIT_USAGE,
    Unreachable: EXIT_UNAVAILABLE,
    NoResult: EXIT_UNAVAILABLE,
    Interrupted: EXIT_INTERRUPTED,
    Terminated: EXIT_TERMINATED,
}

# A message from a server or a proxy can be long (an HTML error page): the line stays readable.
MAX_LINE = 500


def run_reported(command: Callable[[], int]) -> int:
    """Run ``command`` and return its exit status; whatever it raises is reported as one line."""
    try:
        return command()
    except KeyboardInterrupt:
        return report(Interrupted("stopped by Ctrl-C"))
    except LinkcastError as error:
        return report(error)
    except BrokenPipeError:
        # Nobody reads any more: nothing to say, and stdout must not be flushed again at exit (a second error).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    except Exception as error:  # a bug: still one line, with what it was
        return report(LinkcastError(f"{type(error).__name__}: {error}"))


def report(error: LinkcastError) -> int:
    """Print ``error`` as its one line on stderr; return the exit status its type calls for."""
    say(f"{error.code}: {error.message}")
    return next((status for kind, status in EXIT_STATUSES.items() if isinstance(error, kind)), EXIT_FAILED)


def say(text: str) -> None:
    """One line on stderr, ``linkcast: <text>``, whatever line breaks ``text`` holds."""
    line = " ".join(f"linkcast: {text}".split())
    if len(line) > MAX_LINE:
        line = line[: MAX_LINE - 1] + "…"
    print(line, file=sys.stderr, flush=True)
