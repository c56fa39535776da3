"""Crawl jobs: one URL of a crawl each, taken from the store's fair scheduler like every other job.

For its URL a job: obeys robots.txt (``RobotsCache``; a ``Crawl-delay`` becomes the host's spacing in the scheduler,
for every worker process; while it is unreachable, the job is due again when it is asked again, a few times), seeds
from the site's sitemaps once per site and crawl when asked, fetches the page (a redirect to a URL the crawl has
visited is not followed: it counts as a duplicate), extracts its links as a browser sees them, judges each (depth,
scope, patterns: ``rules.py``), and hands the store one ``CrawlOutcome``: the store admits the links (once each, up
to ``max_pages``) and keeps the counts (``store/crawl_ledger.py``).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Iterable
from typing import TypeVar

from linkcast.core.crawls import CRAWL_ENDED, CrawlOutcome, CrawlRecord, Discovered, page_body, skipped_body
from linkcast.core.errors import FetchError, LinkcastError
from linkcast.core.events import Job
from linkcast.crawl.known_links import KnownLinks
from linkcast.crawl.pacing import Pacing, TurnTooFar, take_turn
from linkcast.crawl.robots import path_and_query, product_token
from linkcast.crawl.robots_cache import RobotsCache
from linkcast.crawl.robots_fetch import RobotsAnswer
from linkcast.crawl.rules import LinkRules, SkipReason
from linkcast.crawl.sitemaps import SitemapLimits
from linkcast.crawl.sitemaps_fetch import discover_sitemap_urls
from linkcast.crawl.spec import CrawlSpec
from linkcast.crawl.urls import crawl_key, crawl_key_of_href, host_key, site_of_key
from linkcast.extraction import ExtractionPool
from linkcast.fetch import Fetcher
from linkcast.foreground import Foreground
from linkcast.logs import loggable_url
from linkcast.metrics import Metrics
from linkcast.settings import Settings
from linkcast.store.base import Store
from linkcast.store_refusals import refused_by_the_store

log = logging.getLogger(__name__)

# Crawls whose rules (scope, patterns) this process keeps built, the most recently used.
CACHED_CRAWLS = 256
# Judging links runs on the event loop: up to --max-links of a page's (or 50,000 a sitemap lists), each against up to
# 100 patterns, is seconds of work, so it gives the loop back (to the API, the streams, other jobs) after this long,
# checked every JUDGE_CHECK links.
JUDGE_SLICE_SECONDS = 0.02
JUDGE_CHECK = 64
T = TypeVar("T")


async def in_turns(items: Iterable[T]) -> AsyncIterator[list[T]]:
    """``items`` in lists of up to ``JUDGE_CHECK``, giving the event loop back between two once the caller's work on
    them has taken ``JUDGE_SLICE_SECONDS``. In lists, not one by one: most pages have fewer links than one list, and
    an async generator's step per link would cost the crawl's hot path more than the judging of many."""
    iterator = iter(items)
    turn_began = time.perf_counter()
    while part := list(itertools.islice(iterator, JUDGE_CHECK)):
        yield part
        if time.perf_counter() - turn_began > JUDGE_SLICE_SECONDS:
            await asyncio.sleep(0)
            turn_began = time.perf_counter()


# The visited-set entry that marks a site's sitemaps as read for a crawl (a key no http(s) URL can have).
SITEMAPS_READ = "sitemaps-read:"
# The visited-set entry that gives one site of a crawl another host to read sitemaps from: the first site whose
# sitemaps lead there has it, so that a crawl's many seed sites cannot each send their sitemaps' requests to one
# third party (``sitemaps_fetch``).
SITEMAPS_FROM = "sitemaps-from:"
# The visited-set entry a page's job takes before it claims the target of a redirect: ``redirect-hop:<page> <target>``.
# Handed out again, the job tells by it whether its own last try may have claimed the target (then it fetches it) or
# never came that far (then the target is another page's, visited or to be: a duplicate, as on a first try).
REDIRECT_HOP = "redirect-hop:"


def _reads_sitemaps(job: Job, spec: CrawlSpec) -> bool:
    """Whether the job of a seed may read its site's sitemaps before its page (``sitemaps``, depth 0)."""
    return spec.sitemaps and job.data.get("depth", 0) == 0


class CrawlJobs:
    """The handler of ``crawl`` jobs."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        fetcher: Fetcher,
        extraction: ExtractionPool,
        metrics: Metrics,
        foreground: Foreground | None = None,
    ) -> None:
        self.settings = settings
        self.store = store
        self.fetcher = fetcher
        self.extraction = extraction
        self.metrics = metrics
        self.foreground = foreground or Foreground()  # single requests first: a page's steps wait for them
        self.robots = RobotsCache(fetcher)
        self.product_token = product_token(settings.user_agent)
        self.sitemap_limits = SitemapLimits.from_settings(settings)
        # Per crawl id: the created_at of the crawl they are of, its options and rules.
        self._rules: OrderedDict[str, tuple[float, CrawlSpec, LinkRules]] = OrderedDict()
        self.known = KnownLinks()

    async def process(self, job: Job) -> None:
        began = time.perf_counter()
        record = job.preread[0] if job.preread else await self.store.get_crawl(job.request_id)
        if record is None or record.state in CRAWL_ENDED:  # cancelled meanwhile: the job just ends
            await self.store.finish_crawl_page(job, self._skipped(job, SkipReason.DUPLICATE))
            return
        spec, rules = self._rules_of(record)
        # Fetching robots.txt or reading sitemaps first may take seconds, in which the crawl may have been cancelled
        # (DELETE answered: nothing more is fetched) or even pruned and made again under its id: it is read again.
        waits = (spec.respect_robots and not self.robots.holds(job.url)) or _reads_sitemaps(job, spec)
        refusal = await self._robots_refusal(job) if spec.respect_robots else None
        retry_at = self.robots.retry_at(job.url) if refusal is not None else None
        if retry_at is not None:  # robots.txt unreachable "for a while" (RFC 9309 2.3.1.4): the page waits it out
            await self.store.release(job, retry_at)
            return
        # The site's sitemaps whatever robots.txt says of the seed page itself (they are read once per site).
        seeds = await self._sitemap_seeds(job, record, spec, rules)
        if refusal is not None:
            outcome = refusal.with_links(seeds)
        elif waits and not await self._still_running(record):
            await self.store.finish_crawl_page(job, self._skipped(job, SkipReason.DUPLICATE))
            return
        else:
            outcome = await self._fetch(job, record, spec, rules, seeds)
        await self.foreground.step()
        if await self.store.finish_crawl_page(job, outcome):
            self.known.visited(job.request_id, (link.url for link in outcome.links))
        self.metrics.fetches.labels(outcome.result if outcome.result != "fetched" else "ok").inc()
        log.info(
            "crawl %s: %s %s in %.0f ms",
            job.request_id, loggable_url(job.url), outcome.result, (time.perf_counter() - began) * 1000,
        )  # fmt: skip

    async def _still_running(self, record: CrawlRecord) -> bool:
        """Whether the crawl of ``record`` is still running (not ended, not another crawl under its id)."""
        now = await self.store.get_crawl(record.crawl_id)
        return now is not None and now.created_at == record.created_at and now.state not in CRAWL_ENDED

    def _rules_of(self, record: CrawlRecord) -> tuple[CrawlSpec, LinkRules]:
        """The crawl's options and rules, kept for its next pages. A crawl id used again once its crawl was pruned is
        another crawl (another created_at): what was kept of the old one, and the links it knew, are dropped."""
        found = self._rules.get(record.crawl_id)
        if found is not None and found[0] != record.created_at:
            del self._rules[record.crawl_id]
            self.known.forget(record.crawl_id)
            found = None
        if found is None:
            spec = CrawlSpec.from_json(record.spec, max_pages_cap=self.settings.max_crawl_pages)
            found = self._rules[record.crawl_id] = (record.created_at, spec, LinkRules.for_spec(spec))
            while len(self._rules) > CACHED_CRAWLS:
                self.known.forget(self._rules.popitem(last=False)[0])
        self._rules.move_to_end(record.crawl_id)
        return found[1], found[2]

    async def _robots_refusal(self, job: Job) -> CrawlOutcome | None:
        """The outcome of a URL robots.txt disallows (None: allowed); a ``Crawl-delay`` becomes the host's spacing."""
        answer = await self._obeyed_answer(job.url)
        if answer.site_refused:
            return None  # the page's own fetch is refused as well, and says why (blocked): robots.txt had no say
        return None if self._allows(answer, job.url) else self._skipped(job, SkipReason.ROBOTS)

    async def _obeyed_answer(self, key: str) -> RobotsAnswer:
        """The robots.txt answer for the site of ``key``, to be obeyed: the first time it is (whoever fetched it: a
        redirect's hop, a crawl that ignores robots.txt reading its sitemaps), its ``Crawl-delay`` becomes the
        spacing of the host's jobs, for as long as the answer is kept. The request made next (this job's page, a
        redirect's hop) comes that long after robots.txt, and the host's next job that long after it."""
        answer, first = await self.robots.answer_for(key)
        pacing = self._pacing(answer, host_key(key), just_asked=True) if first else None
        if pacing is not None and pacing.delay > 0:
            # One job of the host at a time from now on, and robots.txt was its request: the next waits its turn.
            await self.store.set_crawl_delay(pacing.host, pacing.delay, time.time() + answer.ttl)
            await pacing.before_request()
        return answer

    def _pacing(self, answer: RobotsAnswer | None, host: str, just_asked: bool = False) -> Pacing:
        """The spacing of a job's own requests to ``host``: the ``Crawl-delay`` of its obeyed robots.txt answer."""
        delay = self._crawl_delay(answer)
        return Pacing(self.store, host, delay, self.settings.max_crawl_delay if delay else 0.0, just_asked)

    def _crawl_delay(self, answer: RobotsAnswer | None) -> float:
        """The answer's ``Crawl-delay`` for this crawler, at most ``--max-crawl-delay`` (0: none)."""
        delay = answer.rules.crawl_delay(self.product_token) if answer is not None else None
        return min(delay, self.settings.max_crawl_delay) if delay else 0.0

    def _allows(self, answer: RobotsAnswer, key: str) -> bool:
        """Whether robots.txt (``answer``, of the site of the crawl key ``key``) lets this crawler fetch ``key``."""
        return answer.rules.allows(path_and_query(key), self.product_token)

    async def _sitemap_seeds(
        self, job: Job, record: CrawlRecord, spec: CrawlSpec, rules: LinkRules
    ) -> list[Discovered]:
        """With ``sitemaps``, the pages a seed's site lists in its sitemaps, once per site and crawl (as seeds). Those
        on the page's own host, and the page after them, come its obeyed ``Crawl-delay`` apart."""
        if not _reads_sitemaps(job, spec):
            return []
        site = site_of_key(job.url)
        if not await self.store.claim_crawl_url(job.request_id, SITEMAPS_READ + site) and job.attempt == 1:
            return []  # read by another seed of the site (or, for a job handed out again, maybe by its own last try)
        # Read here for its Sitemap lines only: the first job that obeys it applies its Crawl-delay.
        answer, _ = await self.robots.answer_for(job.url, obeyed=False)

        async def first_to_reach(host: str) -> bool:
            # A job handed out again may have claimed the host itself before its worker died, as for the site above.
            return await self.store.claim_crawl_url(job.request_id, SITEMAPS_FROM + host) or job.attempt > 1

        pacing = self._pacing(answer if spec.respect_robots else None, host_key(job.url))

        async def going_on(url: str) -> bool:
            # First: the crawl may be cancelled while it waits.
            if host_key(url) == pacing.host:
                await pacing.before_request()
            elif spec.respect_robots:  # a sitemap on another host: its Crawl-delay, if the store knows one
                try:
                    await take_turn(self.store, host_key(url), self.settings.max_crawl_delay)
                except TurnTooFar:
                    return False  # the sitemaps read so far are kept
            return await self._still_running(record)

        urls = await discover_sitemap_urls(
            self.fetcher, site, answer.rules, self.sitemap_limits, first_to_reach, going_on
        )
        await pacing.before_request()  # the page's own turn, after the sitemaps fetched from its host
        # The sitemap's reader gave them WHATWG-serialised (validate_url): cut, not parsed again, which for the 50,000
        # a site's sitemaps may list took 0.2 s of the event loop at once (0.8 s for long URLs).
        keys = dict.fromkeys(map(crawl_key_of_href, urls))
        return [
            Discovered(key, 0, None)
            async for part in in_turns(keys)
            for key in part
            if rules.skip_reason_of_key(key, 0) is None
        ]

    async def _fetch(
        self, job: Job, record: CrawlRecord, spec: CrawlSpec, rules: LinkRules, seeds: list[Discovered]
    ) -> CrawlOutcome:
        depth, referrer = job.data.get("depth", 0), job.data.get("referrer")

        async def still_running(target: str) -> None:
            """A retry is a request of its own: at its host's turn in its Crawl-delay, as the first try was, and none
            for a crawl cancelled since the page's fetch began."""
            if spec.respect_robots:
                await take_turn(self.store, host_key(target), self.settings.max_crawl_delay)
            if not await self._still_running(record):
                raise FetchError(f"{job.url} is not asked again: the crawl has ended", code=SkipReason.DUPLICATE)

        own_host = host_key(job.url)

        async def allowed_and_not_visited(target: str) -> None:
            """Each hop of a redirect is a fetch of its own: robots.txt of its site is asked first, as for a link; and
            none is made for a crawl cancelled since the page's fetch began."""

            async def unless_ended() -> None:
                if not await self._still_running(record):
                    raise FetchError(f"redirects to {target}, and the crawl has ended", code=SkipReason.DUPLICATE)

            await unless_ended()
            key = crawl_key(target)
            if spec.respect_robots:
                waited = not self.robots.holds(key)  # its robots.txt is fetched first
                answer = await self._obeyed_answer(key)
                # A refused target's robots.txt is refused too: the hop itself is, and the fetch says so (blocked).
                if not answer.site_refused and not self._allows(answer, key):
                    raise FetchError(f"redirects to {target}, which robots.txt disallows", code=SkipReason.ROBOTS)
                target_host = host_key(key)
                if target_host == own_host:  # the hop before it was a request to the host too, just now
                    waited = await self._pacing(answer, own_host, just_asked=True).before_request() or waited
                elif self._crawl_delay(answer) > 0:  # no job of that host was claimed for this hop
                    waited = await take_turn(self.store, target_host, self.settings.max_crawl_delay) or waited
                if waited:
                    await unless_ended()  # it may have been cancelled while robots.txt or the Crawl-delay was awaited
            hop = f"{REDIRECT_HOP}{job.url} {key}"
            first_time_here = await self.store.claim_crawl_url(job.request_id, hop)
            if not await self.store.claim_crawl_url(job.request_id, key) and first_time_here:
                # A job handed out again whose last try came this far may have claimed the target itself before its
                # worker died: it fetches the target anyway (a fetch that was running when its worker died is the
                # one a crawl may repeat). One whose last try died before (even in this page's own fetch) did not:
                # the target is another page's, and fetching it would repeat a page no kill interrupted.
                raise FetchError(f"redirects to {target}, which this crawl has visited", code=SkipReason.DUPLICATE)

        try:
            page = await self.fetcher.fetch(
                job.url, before_redirect=allowed_and_not_visited, before_retry=still_running
            )
            await self.foreground.step()
            found = await self.extraction.extract(page.body, page.final_url, page.content_type)
        except LinkcastError as error:
            if refused_by_the_store(error):  # visiting a redirect's target: not the page's failure (it runs again)
                raise
            if error.code in (SkipReason.DUPLICATE, SkipReason.ROBOTS):
                return self._skipped(job, SkipReason(error.code)).with_links(seeds)
            body = page_body(job.request_id, job.url, depth=depth, referrer=referrer, error=error.to_dict())
            return CrawlOutcome(body, "failed", seeds)
        body = page_body(
            job.request_id, job.url, depth=depth, referrer=referrer, final_url=page.final_url,
            status_code=page.status_code, links=found.links, links_truncated=found.truncated,
        )  # fmt: skip
        links, skipped = await self._judge(job.request_id, found.links, depth + 1, rules, job.url)
        final = crawl_key(page.final_url) if page.final_url != job.url else None  # not redirected: no parse
        return CrawlOutcome(body, "fetched", seeds + links, skipped, final if final != job.url else None)

    async def _judge(
        self, crawl_id: str, links: list[str], depth: int, rules: LinkRules, referrer: str
    ) -> tuple[list[Discovered], dict[str, int]]:
        """The links to follow (without fragment, once each) and the others counted by reason: a link this process
        knows (``known_links``) is counted as it was before, without judging it or sending it to the store."""
        keys = dict.fromkeys(map(crawl_key_of_href, links))  # links as extract_links serialises them
        if depth > rules.max_depth:
            return [], {SkipReason.DEPTH.value: len(keys)} if keys else {}
        followed: list[Discovered] = []
        skipped: dict[str, int] = {}
        known = self.known.of(crawl_id)
        async for part in in_turns(keys):
            for key in part:
                known_reason = known.get(key)
                if known_reason is None:
                    reason = rules.skip_reason_of_key(key, depth)
                    if reason is None:
                        followed.append(Discovered(key, depth, referrer))
                        continue
                    known_reason = reason.value
                    self.known.learn(crawl_id, key, known_reason)
                skipped[known_reason] = skipped.get(known_reason, 0) + 1
        return followed, skipped

    @staticmethod
    def _skipped(job: Job, reason: SkipReason) -> CrawlOutcome:
        depth, referrer = job.data.get("depth", 0), job.data.get("referrer")
        body = skipped_body(job.request_id, job.url, depth=depth, referrer=referrer, reason=reason.value)
        return CrawlOutcome(body, reason.value)
