"""Finding a site's pages in its sitemaps: the seeds robots.txt names, the indexes they lead to, all of it bounded.

API::

    await discover_sitemap_urls(fetcher: Fetcher, origin: str, robots_rules: RobotsRules,
                                limits: SitemapLimits | None = None, may_reach: MayReach | None = None,
                                going_on: GoingOn | None = None) -> list[str]

``going_on(url)`` is awaited before every request: each sitemap's first, each hop of its redirects, each retry (a
crawl waits there for the host's turn in its ``Crawl-delay``); False stops the reading, or that sitemap's fetch.

Seeds are the ``Sitemap:`` lines of robots.txt (resolved against it, http(s) only; the first ``LISTED_PER_SITEMAP``
times ``max_sitemaps`` of them), else ``/sitemap.xml``. Sitemaps
are fetched breadth first through the shared ``Fetcher`` (SSRF guard and limits on every hop), each body cut at
``max_bytes`` (and ``--max-body-bytes``) rather than refused, at most ``max_sitemaps`` of them and for at most
``max_total_seconds`` in all (the pages found by then are kept); an index's sitemaps
are followed one level down (``max_depth`` 2), never an index's index. Page URLs are kept if they are on the site's
host, first occurrence first, at most ``max_total_urls``; see ``sitemaps`` for why the site's host.

What robots.txt lists is fetched even where its rules disallow it (the site offers it by name), and so are the
sitemaps an offered index lists; ``/sitemap.xml``, a guess, and what it leads to on the site's host are fetched only
where the rules allow it. A sitemap that fails (no answer, not 2xx, not a sitemap) is skipped and logged: sitemaps
only suggest pages, a crawl goes on without them.

Another host (a ``Sitemap:`` line naming it, or a redirect to it) is reached only where ``may_reach`` says so: a
crawl lets the sitemaps of one of its sites reach each other host. The site chooses what it lists, and nothing bounds
how many sites a crawl seeds from (up to 1,000), so without it each site's robots.txt could send up to
``max_sitemaps`` requests to one third party, its robots.txt never asked: 100,000 of them for one crawl.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Sequence

import ada_url

from linkcast.core.addresses import server_host
from linkcast.core.errors import FetchError, InvalidInput
from linkcast.core.inputs import validate_url
from linkcast.crawl.robots import RobotsRules, path_and_query, product_token
from linkcast.crawl.robots_fetch import robots_url
from linkcast.crawl.sitemaps import Sitemap, SitemapLimits, parse_sitemap
from linkcast.fetch import Fetcher
from linkcast.logs import loggable_url
from linkcast.reading_threads import read_sitemap_in_thread

log = logging.getLogger(__name__)

SITEMAP_ACCEPT = "application/xml, text/xml;q=0.9, text/plain;q=0.8, */*;q=0.5"
OTHER_HOST = "other_host"  # the code of a sitemap fetch that a redirect would have taken to a host not allowed
GONE_ON = "not_going_on"  # the code of one whose hop or retry ``going_on`` stopped
# ``Sitemap:`` lines of robots.txt read, per sitemap fetched at most: room for those not fetched (repeats, a host
# another site of the crawl reads). Each is resolved on the event loop, and 500 KiB of robots.txt (RFC 9309 2.5) holds
# 51,200 of them ("sitemap:x"), 0.76 s of it for nothing: only ``max_sitemaps`` are fetched.
LISTED_PER_SITEMAP = 10

# Whether a site's sitemaps may be fetched from this other host (its name): awaited before the first request to it.
MayReach = Callable[[str], Awaitable[bool]]
# Asked before each sitemap is fetched, with its URL: False (the crawl was cancelled meanwhile) ends the reading; it
# may also wait (the host's Crawl-delay).
GoingOn = Callable[[str], Awaitable[bool]]


async def _reach_anywhere(_host: str) -> bool:
    return True


async def _going_on(_url: str) -> bool:
    return True


async def discover_sitemap_urls(
    fetcher: Fetcher,
    origin: str,
    robots_rules: RobotsRules,
    limits: SitemapLimits | None = None,
    may_reach: MayReach | None = None,
    going_on: GoingOn | None = None,
) -> list[str]:
    """The page URLs a site's sitemaps list, on the site's host, within ``limits`` (default: from the settings),
    fetched from other hosts only where ``may_reach`` allows (default: anywhere), each while ``going_on`` says so."""
    limits = limits or SitemapLimits.from_settings(fetcher.settings)
    site_host = ada_url.URL(origin).hostname
    listed = _listed_sitemaps(origin, robots_rules.sitemaps[: LISTED_PER_SITEMAP * limits.max_sitemaps])
    # (sitemap URL, depth, offered by robots.txt)
    queue = deque((url, 0, True) for url in listed) or deque([(ada_url.join_url(origin, "/sitemap.xml"), 0, False)])
    pages: dict[str, None] = {}
    try:
        async with asyncio.timeout(limits.max_total_seconds):
            reach = _Reach(site_host, may_reach or _reach_anywhere)
            await _read_sitemaps(fetcher, queue, pages, reach, robots_rules, limits, going_on or _going_on)
    except TimeoutError:
        log.info("sitemaps of %s: not all read within %g s", loggable_url(origin), limits.max_total_seconds)
    return list(pages)


async def _read_sitemaps(
    fetcher: Fetcher,
    queue: deque[tuple[str, int, bool]],
    pages: dict[str, None],
    reach: _Reach,
    robots_rules: RobotsRules,
    limits: SitemapLimits,
    going_on: GoingOn,
) -> None:
    """Fetch the sitemaps of ``queue`` (URL, depth, offered by robots.txt) breadth first, adding their pages to
    ``pages`` as each is read (so that those read before the time runs out are kept)."""
    token = product_token(fetcher.settings.user_agent)
    seen = {url for url, _, _ in queue}
    fetched, chars = 0, 0
    while queue and fetched < limits.max_sitemaps and len(pages) < limits.max_total_urls:
        url, depth, offered = queue.popleft()
        host = ada_url.URL(url).hostname
        on_site = host == reach.site_host
        if not offered and on_site and not robots_rules.allows(path_and_query(url), token):
            continue
        if not on_site and not await reach.allows(host):
            log.info("sitemap %s: not fetched (another site of the crawl reads sitemaps there)", loggable_url(url))
            continue
        if not await going_on(url):
            return
        fetched += 1
        sitemap = await _read_sitemap(fetcher, url, reach, limits, going_on)
        if sitemap is None:
            continue
        for page in sitemap.urls[: limits.max_total_urls - len(pages)]:
            if page not in pages:
                chars += len(page)
                if chars > limits.max_total_chars:
                    log.info("sitemaps of %s: over %d characters of URLs, the rest not taken", reach.site_host, chars)
                    return
                pages[page] = None
        if sitemap.sitemaps and depth + 1 >= limits.max_depth:
            log.info("sitemap %s: an index listed by an index, not followed", loggable_url(url))
            continue
        for child in sitemap.sitemaps:
            if child not in seen and fetched + len(queue) < limits.max_sitemaps:
                seen.add(child)
                queue.append((child, depth + 1, offered))


def _listed_sitemaps(origin: str, lines: Sequence[str]) -> list[str]:
    """The ``Sitemap:`` ``lines`` of robots.txt as absolute http(s) URLs (relative ones resolved against it), once
    each."""
    base = robots_url(origin)
    found: dict[str, None] = {}
    for value in lines:
        try:
            found[validate_url(ada_url.join_url(base, value))] = None
        except (ValueError, InvalidInput):
            continue
    return list(found)


async def _read_sitemap(
    fetcher: Fetcher, url: str, reach: _Reach, limits: SitemapLimits, going_on: GoingOn
) -> Sitemap | None:
    async def asked_again(target: str) -> None:
        """Each hop and each retry is a request as the first was: ``going_on`` (its host's Crawl-delay turn) first."""
        if not await going_on(target):
            raise FetchError(f"{target} is not asked: the crawl has ended, or its host has no turn soon", code=GONE_ON)

    async def hop(target: str) -> None:
        await reach.redirect(target)
        await asked_again(target)

    try:
        resource = await fetcher.fetch_resource(
            url, max_bytes=limits.max_bytes, truncate=True, accept=SITEMAP_ACCEPT,
            before_redirect=hop, before_retry=asked_again,
        )  # fmt: skip
    except FetchError as error:
        log.info("sitemap %s: not fetched (%s)", loggable_url(url), error.code)
        return None
    if not 200 <= resource.status_code < 300:
        log.info("sitemap %s: the server answered %d", loggable_url(url), resource.status_code)
        return None
    # Reading may take seconds on a hostile file (at most limits.max_seconds): off the event loop, in threads apart.
    sitemap = await read_sitemap_in_thread(
        parse_sitemap,
        resource.body,
        resource.final_url,
        site_host=reach.site_host,
        limits=limits,
        truncated=resource.truncated,
    )
    if sitemap.error is not None:
        log.info("sitemap %s: %s", loggable_url(url), sitemap.error)
    return sitemap


class _Reach:
    """The hosts one site's sitemaps may be fetched from: its own, and the others ``may_reach`` allows (asked once
    each)."""

    def __init__(self, site_host: str, may_reach: MayReach) -> None:
        self.site_host = site_host
        self._site_server = server_host(site_host)
        self._may_reach = may_reach
        self._answers: dict[str, bool] = {}

    async def allows(self, host: str) -> bool:
        # Asked by the server the host names, however it is spelled (``example.com.``, ``[::ffff:192.0.2.1]``):
        # each spelling was another host of its own, reached by a site of its own.
        server = server_host(host)
        if server == self._site_server:
            return True
        if server not in self._answers:
            self._answers[server] = await self._may_reach(server)
        return self._answers[server]

    async def redirect(self, target: str) -> None:
        """A redirect hook: a sitemap that redirects to a host not allowed is not followed there."""
        host = ada_url.URL(target).hostname
        if not await self.allows(host):
            raise FetchError(f"redirects to {host}, where another site of the crawl reads sitemaps", code=OTHER_HOST)
