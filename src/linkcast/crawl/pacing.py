"""A job's requests to a host with a ``Crawl-delay``, each at the host's turn.

The store spaces the starts of a host's jobs by its ``Crawl-delay``, one at a time: a job's start is its first
request's turn. Any other request to the host (a seed's sitemaps and then its page, a redirect's hop, a redirect from
another host) takes the host's next turn from the store (``Store.take_host_turn``), which moves the next one a delay
on, for every worker process sharing the store.

A worker waits ``max_wait`` (``--max-crawl-delay``) seconds at most: many jobs' redirects into one host whose turns
are taken far ahead (a site that sends every page to another of its hosts that asks a long delay) would hold every
worker, each a delay longer than the one before. Such a request is not made at all (``TurnTooFar``, and no turn is
taken): made when the wait ran out, the third to the sixth of six hops into a host came at once. A job's own requests
to the host it was claimed for (one such job runs at a time) wait a delay longer at most, the time another's request
may have taken the turn before theirs, and are made then.

API::

    pacing = Pacing(store, host, delay, max_wait)  # delay 0: no spacing; just_asked: the job's start was a request
    await pacing.before_request()   # the first returns at once; each next at the host's turn (True: it waited)
    await take_turn(store, host, max_wait)  # a request at the host's next turn, if it has a Crawl-delay (True: waited)
                                            # TurnTooFar: that turn is more than max_wait away
"""

from __future__ import annotations

import asyncio

from linkcast.core.errors import FetchError
from linkcast.fetch.budget import not_counted
from linkcast.store.base import Store


class TurnTooFar(FetchError):
    """A request not made: its host's next ``Crawl-delay`` turn is further away than a worker may wait."""

    code = "timeout"


class Pacing:
    """The requests of one job to ``host``, whose ``Crawl-delay`` (``delay``) the store keeps."""

    def __init__(self, store: Store, host: str, delay: float, max_wait: float, just_asked: bool = False) -> None:
        self.store, self.host, self.delay, self.max_wait = store, host, delay, max_wait
        self._asked = just_asked

    async def before_request(self) -> bool:
        """Wait for the host's turn (True if it was waited for): the job's first request is at its start, which the
        store spaced already."""
        if self.delay <= 0:
            return False
        if not self._asked:
            self._asked = True
            return False
        wait = await self.store.take_host_turn(self.host) or 0.0
        return await _waited(min(wait, self.max_wait + self.delay))


async def take_turn(store: Store, host: str, max_wait: float) -> bool:
    """Wait for ``host``'s next turn in its ``Crawl-delay`` (none without one) before a request that no job of the
    host was claimed for, which the scheduler's spacing would otherwise not see: True if it waited. ``TurnTooFar``
    (and the turn left to others) if it is more than ``max_wait`` seconds away."""
    wait = await store.take_host_turn(host, within=max_wait)
    if wait is None:
        raise TurnTooFar(f"the next turn of {host} (its Crawl-delay) is over {max_wait:g} s away (--max-crawl-delay)")
    return await _waited(wait)


async def _waited(wait: float) -> bool:
    if wait > 0:
        async with not_counted():  # a redirect's hop waits here inside its page's fetch, whose bound it is not
            await asyncio.sleep(wait)
    return wait > 0
