"""robots.txt answers kept per site (scheme, host, port) for as long as each may be (``RobotsAnswer.ttl``), in this
process: fetched once however many crawls and jobs ask at once, and across crawls until it expires. Bounded in sites
and in the robots.txt octets their rules were parsed from (parsed rules take about ten times their text: a hostile
500 KiB file about 5 MB, so 10,000 such sites would be 50 GB): the least recently used sites are forgotten first."""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from dataclasses import dataclass

from linkcast.crawl.robots_fetch import RobotsAnswer, fetch_robots
from linkcast.crawl.urls import site_of_key
from linkcast.fetch import Fetcher

MAX_SITES = 10_000
# robots.txt octets whose rules are kept at most (typical files are a few kB: thousands of sites fit).
MAX_CACHED_BYTES = 8 * 1024 * 1024
# What an entry weighs besides its file (the answer, the site's key), so that empty files are not free.
ENTRY_BYTES = 256


@dataclass(slots=True)
class Cached:
    answer: RobotsAnswer
    expires_at: float
    obeyed: bool = False  # handed to a caller that obeys it: its Crawl-delay has been applied


class RobotsCache:
    def __init__(self, fetcher: Fetcher, max_sites: int = MAX_SITES, max_bytes: int = MAX_CACHED_BYTES) -> None:
        self.fetcher = fetcher
        self.max_sites = max_sites
        self.max_bytes = max_bytes
        self._answers: OrderedDict[str, Cached] = OrderedDict()
        self._bytes = 0  # the weight of the answers kept
        self._fetching: dict[str, asyncio.Future[Cached | None]] = {}

    def holds(self, url: str) -> bool:
        """Whether the answer for ``url``'s site is kept and fresh: ``answer_for`` then gives it without waiting."""
        cached = self._answers.get(site_of_key(url))
        return cached is not None and cached.expires_at > time.monotonic()

    async def answer_for(self, url: str, *, obeyed: bool = True) -> tuple[RobotsAnswer, bool]:
        """The robots.txt answer for ``url``'s site (``url`` a crawl key), and whether this is the first time it is
        handed to a caller that obeys it (``obeyed``): that caller applies its ``Crawl-delay``, once per answer.

        Usually the caller that fetched it, but not always: a redirect's hop, or a crawl that ignores robots.txt
        reading its ``Sitemap`` lines, may have fetched it first, and the jobs that obey it find it in the cache."""
        site = site_of_key(url)
        while True:
            cached = self._answers.get(site)
            if cached is not None and cached.expires_at > time.monotonic():
                self._answers.move_to_end(site)
                return cached.answer, _first_obeyed(cached, obeyed)
            pending = self._fetching.get(site)
            if pending is None:
                fresh = await self._fetch(site, url)
                return fresh.answer, _first_obeyed(fresh, obeyed)
            # Another job of this site is fetching it: wait for its answer. None: that job was cancelled (its own
            # deadline: a redirect's hop asks inside the page's), which is no answer, and nothing that ends this job;
            # the file is asked again.
            fetched = await asyncio.shield(pending)
            if fetched is not None:
                return fetched.answer, _first_obeyed(fetched, obeyed)

    async def _fetch(self, site: str, url: str) -> Cached:
        pending: asyncio.Future[Cached | None] = asyncio.get_running_loop().create_future()
        self._fetching[site] = pending
        try:
            answer = await fetch_robots(self.fetcher, url)
            fresh = Cached(answer, time.monotonic() + answer.ttl)
            self._keep(site, fresh)
            pending.set_result(fresh)
            return fresh
        except asyncio.CancelledError:
            # Handed on, this job's cancellation would cancel every job waiting (a worker takes a CancelledError for
            # its own stop, gives its job back and ends): they fetch the file themselves instead.
            pending.set_result(None)
            raise
        except BaseException as error:
            pending.set_exception(error)
            pending.exception()  # retrieved: no "never retrieved" warning when nobody else waited
            raise
        finally:
            del self._fetching[site]

    def __len__(self) -> int:
        return len(self._answers)

    def _keep(self, site: str, fresh: Cached) -> None:
        """Keep ``fresh`` as the most recent answer, forgetting the least recent ones past either bound (the newest
        is always kept: its crawl is about to use it)."""
        replaced = self._answers.pop(site, None)
        if replaced is not None:
            self._bytes -= _weight(replaced)
        self._answers[site] = fresh
        self._bytes += _weight(fresh)
        while len(self._answers) > 1 and (len(self._answers) > self.max_sites or self._bytes > self.max_bytes):
            self._bytes -= _weight(self._answers.popitem(last=False)[1])


def _first_obeyed(cached: Cached, obeyed: bool) -> bool:
    """Whether this caller, obeying the answer or not, is the first that obeys it (and marks it so)."""
    first = obeyed and not cached.obeyed
    cached.obeyed = cached.obeyed or obeyed
    return first


def _weight(cached: Cached) -> int:
    return ENTRY_BYTES + cached.answer.rules.parsed_bytes
