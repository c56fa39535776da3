"""Warnings for connection limits that an attack can hit thousands of times a second, without flooding the log.

The first hit of a quiet limit is logged at once, so the operator sees an attack begin; further hits are counted and
logged as one line per limit per interval, with the count and the latest client. A limit with no hit for a whole
interval is quiet again.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

log = logging.getLogger("linkcast.connections")

DEFAULT_INTERVAL = 5.0


@dataclass
class _Window:
    count: int = 0
    latest: str = ""


class LimitLog:
    """One warning line per limit per ``interval`` seconds at most, each with how many hits it stands for."""

    def __init__(self, interval: float = DEFAULT_INTERVAL, logger: logging.Logger = log) -> None:
        self.interval = interval
        self.logger = logger
        self._windows: dict[str, _Window] = {}

    def hit(self, limit: str, client: str, what: str) -> None:
        """Count one hit of ``limit`` (a setting's name) by ``client``; ``what`` says what was done, e.g.
        ``"connection refused"``. Call from the event loop."""
        window = self._windows.get(limit)
        if window is not None:
            window.count += 1
            window.latest = client
            return
        self.logger.warning(
            "%s: %s from %s (further hits are counted and logged every %.0f s)", limit, what, client, self.interval
        )
        self._windows[limit] = _Window()
        asyncio.get_running_loop().call_later(self.interval, self._flush, limit, what)

    def _flush(self, limit: str, what: str) -> None:
        window = self._windows[limit]
        if window.count == 0:
            del self._windows[limit]
            return
        self.logger.warning(
            "%s: %s %d more times in the last %.0f s (latest from %s)",
            limit, what, window.count, self.interval, window.latest,
        )  # fmt: skip
        self._windows[limit] = _Window()
        asyncio.get_running_loop().call_later(self.interval, self._flush, limit, what)
