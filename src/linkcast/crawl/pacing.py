"""A job's requests to a host with a ``Crawl-delay``, each at the host's turn.

The store spaces the starts of a host's jobs by its ``Crawl-delay``, one at a time: a job's start is its first
request's turn. Any other request to the host (a seed's sitemaps and then its page, a redirect's hop, a redirect from
another host) takes the host's next turn from the store (``Store.take_host_turn``), which moves the next one a delay
on, for every worker process sharing the store.

API::

    pacing = Pacing(store, host, delay)   # delay 0: no spacing; just_asked: the job's start went to a request already
    await pacing.before_request()         # the first returns at once; each next at the host's turn (True: it waited)
    await take_turn(store, host)          # a request at the host's next turn, if it has a Crawl-delay (True: waited)
"""

from __future__ import annotations

import asyncio

from linkcast.store.base import Store


class Pacing:
    """The requests of one job to ``host``, whose ``Crawl-delay`` (``delay``) the store keeps."""

    def __init__(self, store: Store, host: str, delay: float, just_asked: bool = False) -> None:
        self.store, self.host, self.delay = store, host, delay
        self._asked = just_asked

    async def before_request(self) -> bool:
        """Wait for the host's turn (True if it was waited for): the job's first request is at its start, which the
        store spaced already."""
        if self.delay <= 0:
            return False
        if not self._asked:
            self._asked = True
            return False
        return await take_turn(self.store, self.host)


async def take_turn(store: Store, host: str) -> bool:
    """Wait for ``host``'s next turn in its ``Crawl-delay`` (none without one) before a request that no job of the
    host was claimed for, which the scheduler's spacing would otherwise not see: True if it waited."""
    wait = await store.take_host_turn(host)
    if wait > 0:
        await asyncio.sleep(wait)
    return wait > 0
