"""The decision for one link discovered on a crawled page: follow it, or skip it and say why.

The reasons are shared with the service, which reports every skip with one of them: this module decides ``depth``,
``scope`` and ``pattern``, from the spec alone; the service decides ``robots`` (robots.txt), ``page_limit``
(``max_pages`` reached) and ``duplicate`` (already seen), which need the store or the network.

The checks run in a fixed order, and the first that fails is the reason: ``depth`` (a property of the page the link
is on, and the cheapest: on a page at the crawl's depth every link is skipped without looking at it, as Scrapy's
depth limit does), then ``scope``, then ``pattern`` (the costliest: linear in the URL for each pattern).

A link longer than a URL the API takes (``MAX_URL_BYTES``, 8 KiB) is out of scope: a page may hold links of up to
2 MiB (what Chromium lists), and a crawl that admitted them would keep one in its frontier, its events and its
process for each page of a hostile site (20 GB for 10,000 pages), to fetch URLs that servers refuse anyway.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from linkcast.core.inputs import MAX_URL_BYTES
from linkcast.crawl.patterns import PatternFilter
from linkcast.crawl.scope import Scope
from linkcast.crawl.spec import CrawlSpec
from linkcast.crawl.urls import crawl_key


class SkipReason(StrEnum):
    """Why a crawl did not fetch a URL it found, by the name events carry."""

    ROBOTS = "robots"  # robots.txt disallows it (the service)
    SCOPE = "scope"  # outside the crawl's scope, not an http(s) URL, or longer than a URL the API takes
    PATTERN = "pattern"  # no include pattern matches it, or an exclude pattern does
    DEPTH = "depth"  # more links away from a seed than max_depth
    PAGE_LIMIT = "page_limit"  # max_pages already reached (the service)
    DUPLICATE = "duplicate"  # already fetched or queued in this crawl (the service)


SKIP_REASONS: tuple[str, ...] = tuple(reason.value for reason in SkipReason)


@dataclass(frozen=True, slots=True)
class LinkRules:
    """A crawl's rules for the links it discovers, built once per crawl from its spec."""

    max_depth: int
    scope: Scope
    patterns: PatternFilter

    @classmethod
    def for_spec(cls, spec: CrawlSpec) -> LinkRules:
        return cls(spec.max_depth, Scope.for_seeds(spec.scope, spec.seeds), spec.patterns())

    def skip_reason(self, link: str, depth: int) -> SkipReason | None:
        """None to follow ``link``, else why not. ``depth`` is the linked page's: one more than the page the link
        was found on (seeds are 0). Seeds themselves are not judged here: a crawl fetches the seeds it was given."""
        if depth > self.max_depth:
            return SkipReason.DEPTH
        try:
            key = crawl_key(link)
        except ValueError:
            return SkipReason.SCOPE
        return self.skip_reason_of_key(key, depth)

    def skip_reason_of_key(self, key: str, depth: int) -> SkipReason | None:
        """``skip_reason`` of a link already a crawl key (``crawl/urls.py``), parsed once instead of twice."""
        if depth > self.max_depth:
            return SkipReason.DEPTH
        if len(key) > MAX_URL_BYTES or not self.scope.contains_serialised(key):
            return SkipReason.SCOPE
        if not self.patterns.allows(key):
            return SkipReason.PATTERN
        return None
