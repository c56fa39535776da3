"""How a CLI command can fail, as typed errors with stable codes, beside the server's own codes that it passes on.

Commands and the code under them raise these (or any ``LinkcastError``); ``linkcast.cli.report`` alone turns one
into its line on stderr and its exit status.
"""

from __future__ import annotations

from linkcast.core.errors import LinkcastError


class UsageError(LinkcastError):
    """A command line the command cannot take: an unknown flag, a missing argument, a value of the wrong type."""

    code = "usage"


class Unreachable(LinkcastError):
    """The server could not be reached (refused, unknown name, timed out), or the connection was lost mid-call."""

    code = "unreachable"


class ServerError(LinkcastError):
    """The server answered with an error (a 4xx or 5xx, or a refused WebSocket handshake): its code and message.

    ``status`` is the HTTP status; the code is the one in the server's JSON error, or ``http_<status>`` when the
    answer was not linkcast's (a proxy's error page)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message, code=code)
        self.status = status


class RequestFailed(LinkcastError):
    """The request was accepted but ended in an ``error`` event: its code (``timeout``, ``http_status``, ...)."""


class NoResult(LinkcastError):
    """The result did not come within the command's ``--timeout``."""

    code = "no_result"


class Interrupted(LinkcastError):
    """The user stopped the command (Ctrl-C)."""

    code = "interrupted"


class Terminated(LinkcastError):
    """The command was told to stop (SIGTERM: ``kill``, ``timeout``, a process manager)."""

    code = "terminated"


class NothingFetched(LinkcastError):
    """The crawl ran but fetched no page: every seed failed, or robots.txt disallowed it."""

    code = "nothing_fetched"


class CrawlCancelled(LinkcastError):
    """The crawl this command followed was cancelled before its end by someone else (``DELETE /crawls/<id>``)."""

    code = "cancelled"


class UnreadableFile(LinkcastError):
    """A file the command was given cannot be read: missing, a folder, not allowed, or too large to send."""

    code = "unreadable_file"


class UnwritableFile(LinkcastError):
    """The file the command was told to write cannot be written (``-o`` in a missing folder, not allowed...)."""

    code = "unwritable_file"


class ImportIncomplete(LinkcastError):
    """An OPML import that watched some of its feeds but not all: the summary says which failed and why."""

    code = "import_incomplete"
