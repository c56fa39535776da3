"""What linkcast writes to its logs: URLs without the parts that may hold secrets, and repeated problems once.

A submitted URL may carry a credential in its user info or its query (``?api_key=``); the logs name the page
(scheme, host, port and path) and never those parts. A failure that repeats for as long as an outage lasts (the store
unreachable, a full disk) is written when it starts, then at most once per interval with how often it happened
meanwhile, so that an outage is visible without drowning the log.
"""

from __future__ import annotations

import logging
import time
from urllib.parse import urlsplit

from linkcast.core.errors import LinkcastError

# The least time between two lines about the same repeated problem.
REPEAT_INTERVAL_SECONDS = 60.0


def loggable_url(url: str) -> str:
    """``url`` without its user info, query and fragment: ``https://u:p@host/a?token=x#f`` -> ``https://host/a``."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
        port = f":{parts.port}" if parts.port is not None else ""
    except ValueError:
        return "<unparsable URL>"
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}{port}{parts.path}"


class RepeatedProblem:
    """Logs a problem that may repeat many times a second: the first time, then once per ``interval`` with a count.

    A typed error (``LinkcastError``: an outage, a full store) is one line with its code; anything else is a bug and
    keeps its traceback, once per interval too.
    """

    def __init__(self, logger: logging.Logger, interval: float = REPEAT_INTERVAL_SECONDS) -> None:
        self.logger = logger
        self.interval = interval
        self._last_logged = float("-inf")
        self._suppressed = 0

    def report(self, message: str, error: BaseException) -> None:
        now = time.monotonic()
        if now - self._last_logged < self.interval:
            self._suppressed += 1
            return
        repeats = f" (and {self._suppressed} more times since the last report)" if self._suppressed else ""
        self._last_logged, self._suppressed = now, 0
        if isinstance(error, LinkcastError):
            self.logger.warning("%s: %s: %s%s", message, error.code, error.message, repeats)
        else:
            self.logger.error("%s%s", message, repeats, exc_info=error)
