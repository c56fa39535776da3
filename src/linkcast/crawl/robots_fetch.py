"""Fetching a site's robots.txt by RFC 9309 2.3, and how long the answer may be kept.

API::

    robots_url(site_url: str) -> str                  # "https://h:8443/a?b" -> "https://h:8443/robots.txt"
    await fetch_robots(fetcher: Fetcher, site_url: str) -> RobotsAnswer
    RobotsAnswer.rules: RobotsRules                   # what to obey
    RobotsAnswer.ttl: float                           # seconds it may be used before robots.txt is fetched again
    RobotsAnswer.outcome: "parsed" | "unavailable" | "unreachable"
    RobotsAnswer.status_code: int | None, RobotsAnswer.error: str | None   # what happened, for logs and events
    RobotsAnswer.site_refused: bool                   # robots.txt's own URL is refused: so is every page of the site

What each answer means (the fetch goes through the shared ``Fetcher``: its SSRF guard on every hop, its limits):

- 2xx: the body is parsed (its first 500 KiB, whole lines; the rest never read: RFC 9309 2.5), in a thread, and kept
  ``--robots-cache-ttl``.
- 3xx: followed up to 5 hops, across hosts too (2.3.1.2); the rules then apply to the site asked about. More than 5,
  a loop, or a redirect to no http(s) URL: no robots.txt to be had, taken as "unavailable" (2.3.1.2 allows it).
- 4xx: "unavailable" (2.3.1.3): everything allowed, kept ``--robots-cache-ttl``. Except 429, which asks the crawler
  to slow down, not to help itself: "unreachable", as Google does.
- 5xx, 429, or no answer (timeout, refused connection, DNS failure, broken response): "unreachable" (2.3.1.4):
  everything disallowed for ``--robots-unreachable-ttl`` (5 min by default; a longer ``Retry-After`` is honoured up
  to the cache TTL), then tried again. The RFC also lets a crawler keep using an older copy while robots.txt is
  unreachable: a caller that has one may keep it, as ``outcome`` tells it.
- A hop refused by the address policy: disallow all, kept the full TTL (asking again would be refused again). When
  the first hop (robots.txt's own URL) is the one refused, the site is: ``site_refused`` says so, since then every
  fetch of its pages is refused the same way, and robots.txt has no say (a crawl reports such a page ``blocked``);
  that answer is kept ``--robots-unreachable-ttl`` only, since a name may resolve elsewhere later.
- Any other status (1xx, a 3xx without Location): nothing readable, "unreachable".

``Cache-Control`` is not used for the TTL: many servers send ``no-cache`` on every answer, robots.txt included, and
fetching it before every page would double the load on the site; 24 h is the RFC's own ceiling (2.4).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import ada_url

from linkcast.core.errors import Blocked, FetchError
from linkcast.crawl.robots import (
    ALLOW_ALL,
    DISALLOW_ALL,
    ROBOTS_PARSE_LIMIT,
    RobotsRules,
    parse_robots,
    product_token,
)
from linkcast.fetch import Fetcher
from linkcast.fetch.retry import parse_retry_after
from linkcast.reading_threads import read_in_thread

ROBOTS_MAX_REDIRECTS = 5  # RFC 9309 2.3.1.2: at least five consecutive redirects
# Failures that mean there is no robots.txt to be had behind the redirects, rather than a server in trouble.
NO_ROBOTS_CODES = frozenset({"too_many_redirects", "redirect_loop", "bad_redirect"})

Outcome = Literal["parsed", "unavailable", "unreachable"]


@dataclass(frozen=True, slots=True)
class RobotsAnswer:
    """The rules to obey for a site, how long they may be kept, and what the fetch of robots.txt came to."""

    rules: RobotsRules
    ttl: float
    outcome: Outcome
    status_code: int | None = None
    error: str | None = None  # the FetchError's code when there was no answer
    site_refused: bool = False  # the address policy refuses robots.txt's own URL, and so the site's every page


def robots_url(site_url: str) -> str:
    """The robots.txt of the site (scheme, host and port) of any of its URLs, without their user info: the answer is
    kept for every crawl of the site, so one crawl's credentials must neither be sent for it nor shape the rules
    another crawl obeys."""
    parsed = ada_url.URL(ada_url.join_url(site_url, "/robots.txt"))
    parsed.username, parsed.password = "", ""
    joined: str = parsed.href
    return joined


async def fetch_robots(fetcher: Fetcher, site_url: str) -> RobotsAnswer:
    """Fetch and read the robots.txt of ``site_url``'s site; never raises for what the site answers or fails to."""
    settings = fetcher.settings
    cache_ttl, unreachable_ttl = settings.robots_cache_ttl, settings.robots_unreachable_ttl
    redirected: list[str] = []

    async def note(target: str) -> None:
        redirected.append(target)

    try:
        resource = await fetcher.fetch_resource(
            robots_url(site_url),
            # One octet past the limit: whether the line the limit ends ends there too (it is then read whole).
            max_bytes=ROBOTS_PARSE_LIMIT + 1,
            truncate=True,
            max_redirects=ROBOTS_MAX_REDIRECTS,
            accept="text/plain",
            before_redirect=note,
        )
    except Blocked as error:
        if redirected:
            return RobotsAnswer(DISALLOW_ALL, cache_ttl, "unreachable", error=error.code)
        # The site itself was refused, maybe for what its name resolved to just now: its pages are fetched without
        # rules while this answer is kept (each fetch is checked, and refused, on its own), so it is kept only as
        # long as an unreachable robots.txt, and then asked again: a name that has since turned public has its rules.
        return RobotsAnswer(DISALLOW_ALL, unreachable_ttl, "unreachable", error=error.code, site_refused=True)
    except FetchError as error:
        if error.code in NO_ROBOTS_CODES:
            return RobotsAnswer(ALLOW_ALL, cache_ttl, "unavailable", error=error.code)
        return RobotsAnswer(DISALLOW_ALL, unreachable_ttl, "unreachable", error=error.code)
    status = resource.status_code
    if 200 <= status < 300:
        # A site's whole 500 KiB takes about 0.1 s to parse and index: off the event loop.
        rules = await read_in_thread(_read_rules, resource.body, resource.truncated, settings.user_agent)
        return RobotsAnswer(rules, cache_ttl, "parsed", status)
    if 400 <= status < 500 and status != 429:
        return RobotsAnswer(ALLOW_ALL, cache_ttl, "unavailable", status)
    retry_after = parse_retry_after(resource.headers.get("Retry-After")) or 0.0
    ttl = max(unreachable_ttl, min(retry_after, cache_ttl))
    return RobotsAnswer(DISALLOW_ALL, ttl, "unreachable", status)


def _read_rules(body: bytes, truncated: bool, user_agent: str) -> RobotsRules:
    return parse_robots(body, truncated=truncated).prepare(product_token(user_agent))
