"""robots.txt answers kept per site (scheme, host, port) for as long as each may be (``RobotsAnswer.ttl``), in this
process: fetched once however many crawls and jobs ask at once, and across crawls until it expires. Bounded in sites
and in the robots.txt octets their rules were parsed from (parsed rules take about ten times their text: a hostile
500 KiB file about 5 MB, so 10,000 such sites would be 50 GB): the least recently used sites are forgotten first.

An unreachable robots.txt (5xx, no answer) disallows the whole site while its answer is kept (RFC 9309 2.3.1.4), "for
a while": ``retry_at`` tells a page's job when to come back rather than be skipped, for ``UNREACHABLE_TRIES`` answers
in a row (with the default --robots-unreachable-ttl, ten minutes), after which the site's pages are skipped; not for
an answer kept longer than --robots-unreachable-ttl (a long Retry-After, a redirect to a refused address)."""

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
# Unreachable answers in a row that a site's pages wait through (their jobs due again as each expires).
UNREACHABLE_TRIES = 3


@dataclass(slots=True)
class Cached:
    answer: RobotsAnswer
    expires_at: float
    obeyed: bool = False  # handed to a caller that obeys it: its Crawl-delay has been applied
    unreachable: int = 0  # unreachable answers in a row, this one included (0: it is not one)


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

    def retry_at(self, url: str) -> float | None:
        """For ``url``'s site whose robots.txt is unreachable (kept), when a page refused by it should be tried again
        (wall-clock time: when the answer expires, and robots.txt is asked again), if its site has not been so for
        ``UNREACHABLE_TRIES`` answers in a row; None: nothing to wait for (the refusal stands)."""
        cached = self._answers.get(site_of_key(url))
        if cached is None or not 0 < cached.unreachable < UNREACHABLE_TRIES:
            return None
        return time.time() + max(0.0, cached.expires_at - time.monotonic())

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
            if _worth_waiting_for(answer, self.fetcher.settings.robots_unreachable_ttl):
                before = self._answers.get(site)  # expired, and kept until now
                fresh.unreachable = (before.unreachable if before is not None else 0) + 1
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


def _worth_waiting_for(answer: RobotsAnswer, unreachable_ttl: float) -> bool:
    """Whether pages refused by ``answer`` may wait for the next one: an unreachable robots.txt kept no longer than
    usual (not a Retry-After of hours, not a redirect to a refused address, kept a day), of a site not refused."""
    return answer.outcome == "unreachable" and not answer.site_refused and answer.ttl <= unreachable_ttl


def _weight(cached: Cached) -> int:
    return ENTRY_BYTES + cached.answer.rules.parsed_bytes
