"""One job's requests to a host with a ``Crawl-delay``, that far apart.

The store spaces the starts of a host's jobs by its ``Crawl-delay``, one at a time. A job that asks the host more than
once (a seed reading its site's sitemaps, then fetching its page) spaces its own requests the same way, and tells the
store of each, so that the host's next job starts a delay past the last of them.

API::

    pacing = Pacing(store, host, delay, until)   # delay 0: no spacing; just_asked: a request to it was just made
    await pacing.before_request()                # the first returns at once; each next a delay past the last
                                                 # (True: it waited)
"""

from __future__ import annotations

import asyncio
import time

from linkcast.store.base import Store


class Pacing:
    """The requests of one job to ``host``, ``delay`` seconds apart (a ``Crawl-delay`` in force until ``until``)."""

    def __init__(self, store: Store, host: str, delay: float, until: float, just_asked: bool = False) -> None:
        self.store, self.host, self.delay, self.until = store, host, delay, until
        self._last: float | None = time.monotonic() if just_asked else None

    async def before_request(self) -> bool:
        """Wait for the host's turn (True if it was waited for): the job's first request is at its start, which the
        store spaced already."""
        if self.delay <= 0:
            return False
        waited = self._last is not None
        if self._last is not None:
            await asyncio.sleep(max(0.0, self._last + self.delay - time.monotonic()))
            await self.store.set_crawl_delay(self.host, self.delay, self.until)  # the next job: a delay past this
        self._last = time.monotonic()
        return waited
