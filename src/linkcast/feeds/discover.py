"""The feed behind a URL: the URL itself if it serves a feed (where its permanent redirects lead), else the first feed
its page names (``Link`` headers, then ``<link rel="alternate">`` of the feed types in its head), else the page itself
(its links) if it names a WebSub hub, fetched through the shared ``Fetcher``."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from linkcast.core.errors import FetchError, InvalidInput, Unprocessable
from linkcast.core.feeds import WATCH_FEED, WATCH_LINKS
from linkcast.extraction import INLINE_MAX_BYTES, ExtractionPool
from linkcast.feeds.discovery import (
    FeedLink,
    feed_links_in_headers,
    feeds_and_hub_in_html,
    hub_and_self_in_headers,
    looks_like_a_feed,
)
from linkcast.feeds.first_answers import FirstAnswers
from linkcast.fetch import Fetcher, Resource

# A small page's head is read in a thread of its own (a few tens of milliseconds at most), one at a time, apart from
# the threads that read feeds (``reading_threads``): an API request never waits behind a poll. A larger page is read
# in an extraction child, killed at its deadline: its tree can take some 450 MB (10 MB of <meta>) and hours (10 MB of
# nested <div>).
_HEAD_READER = ThreadPoolExecutor(max_workers=1, thread_name_prefix="linkcast-feed-discovery")

# What is read of the answer: a page names its feeds in its head, and a feed is known by its start. Read whole (up to
# --max-body-bytes) in each API request, 100 PUT /feeds at once of a 10 KB gzipped page held 1 GB. A feed longer than
# this is not kept for its first poll, which fetches it whole.
DISCOVERY_BYTES = 1024 * 1024

FEED_OR_PAGE = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.9, "
    "application/json;q=0.8, text/html;q=0.7, */*;q=0.5"
)


async def discover_feed(
    fetcher: Fetcher, extraction: ExtractionPool, url: str, answers: FirstAnswers | None = None
) -> tuple[str, str]:
    """The URL to watch for ``url`` and how (``WATCH_FEED``, or ``WATCH_LINKS`` for a page that names no feed but a
    WebSub hub: a topic may be any document, W3C WebSub 1, and websub.rocks' are HTML pages), read in its first
    ``DISCOVERY_BYTES``; ``InvalidInput`` (``no_feed_found``) when it is a page that names neither, and
    ``Unprocessable`` (422) with the fetch's code (``dns``, ``timeout``, ``http_status``...) when it cannot be
    fetched: the URL is the client's to fix, not a fault of this server. When ``url`` serves the feed itself, its
    answer (if read whole) is kept in ``answers`` for the first poll."""
    try:
        resource = await fetcher.fetch_resource(url, max_bytes=DISCOVERY_BYTES, truncate=True, accept=FEED_OR_PAGE)
    except FetchError as error:
        raise Unprocessable(f"{url} could not be fetched to find its feed: {error.message}", code=error.code) from None
    if not 200 <= resource.status_code < 300:
        raise Unprocessable(f"{url} answered {resource.status_code}", code="http_status")
    content_type = resource.headers.get("Content-Type")
    if looks_like_a_feed(resource.body, content_type):
        return _first_poll_kept(answers, resource), WATCH_FEED
    link_headers = resource.header_values("Link")
    candidates = feed_links_in_headers(link_headers, resource.final_url)
    # Off the event loop: the page is up to --max-body-bytes, and its head is scanned for a charset as Chromium does,
    # in Python (a head of a million <meta> tags takes seconds). This runs in an API request, beside every other.
    try:
        in_head, names_hub = await _feeds_and_hub(extraction, resource.body, resource.final_url, content_type)
    except FetchError as error:
        raise Unprocessable(f"{url} could not be read to find its feed: {error.message}", code=error.code) from None
    # A page's application/json alternate is most often an API's view of it (WordPress names one on every page),
    # rarely a JSON Feed 1.0: any feed of a feed-only type is taken before it.
    candidates += in_head
    candidates.sort(key=lambda link: link.type == "application/json")
    if not candidates and (names_hub or hub_and_self_in_headers(link_headers, resource.final_url)[0]):
        return _first_poll_kept(answers, resource), WATCH_LINKS
    if not candidates:
        raise InvalidInput(
            f'{url} is no feed, and its page names none (no <link rel="alternate"> of a feed type) nor a WebSub hub; '
            'to watch the page itself (its links), give "watch": "links"',
            code="no_feed_found",
        )
    return candidates[0].url, WATCH_FEED


def _first_poll_kept(answers: FirstAnswers | None, resource: Resource) -> str:
    """The URL to watch ``resource`` at, where permanent redirects led (not where a temporary one did: that URL is
    asked again at each poll), its answer kept for the first poll if read whole."""
    if answers is not None and not resource.truncated:
        answers.keep(resource.permanent_url, resource)
    return resource.permanent_url


async def _feeds_and_hub(
    extraction: ExtractionPool, body: bytes, url: str, content_type: str | None
) -> tuple[list[FeedLink], bool]:
    if len(body) <= INLINE_MAX_BYTES:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(_HEAD_READER, feeds_and_hub_in_html, body, url, content_type)
    too_slow = f"the page took more than {extraction.timeout:g} s to read (pathological markup)"
    got = await extraction.run_for_request("feed_links", {"url": url, "content_type": content_type}, body, too_slow)
    if "error" in got:
        raise FetchError(f"reading the page failed: {got['error']}", code="extract_failed")
    return [FeedLink(*link) for link in got["links"]], bool(got["hub"])


def feed_links_task(request: dict[str, Any], body: bytes) -> dict[str, Any]:
    """The ``feed_links`` task of an extraction child: ``feeds_and_hub_in_html``."""
    found, names_hub = feeds_and_hub_in_html(body, request["url"], request["content_type"])
    return {"links": [(link.url, link.type, link.title) for link in found], "hub": names_hub}
