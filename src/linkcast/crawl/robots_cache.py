"""robots.txt answers kept per site (scheme, host, port) for as long as each may be (``RobotsAnswer.ttl``), in this
process: fetched once however many crawls and jobs ask at once, and across crawls until it expires. Bounded: the
least recently used sites are forgotten first."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass

from linkcast.crawl.robots_fetch import RobotsAnswer, fetch_robots
from linkcast.crawl.urls import site_of_key
from linkcast.fetch import Fetcher

MAX_SITES = 10_000


@dataclass(frozen=True, slots=True)
class Cached:
    answer: RobotsAnswer
    expires_at: float


class RobotsCache:
    def __init__(self, fetcher: Fetcher, max_sites: int = MAX_SITES) -> None:
        self.fetcher = fetcher
        self.max_sites = max_sites
        self._answers: OrderedDict[str, Cached] = OrderedDict()
        self._fetching: dict[str, asyncio.Future[Cached]] = {}

    async def answer_for(self, url: str) -> tuple[RobotsAnswer, bool]:
        """The robots.txt answer for ``url``'s site (``url`` a crawl key), and whether it was fetched now (False: from
        the cache)."""
        site = site_of_key(url)
        cached = self._answers.get(site)
        if cached is not None and cached.expires_at > time.monotonic():
            self._answers.move_to_end(site)
            return cached.answer, False
        pending = self._fetching.get(site)
        if pending is not None:  # another job of this site is fetching it: wait for its answer
            return (await asyncio.shield(pending)).answer, False
        pending = asyncio.get_running_loop().create_future()
        self._fetching[site] = pending
        try:
            answer = await fetch_robots(self.fetcher, url)
            fresh = Cached(answer, time.monotonic() + answer.ttl)
            self._answers[site] = fresh
            self._answers.move_to_end(site)
            while len(self._answers) > self.max_sites:
                self._answers.popitem(last=False)
            pending.set_result(fresh)
            return answer, True
        except BaseException as error:
            pending.set_exception(error)
            pending.exception()  # retrieved: no "never retrieved" warning when nobody else waited
            raise
        finally:
            del self._fetching[site]
