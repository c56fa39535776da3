"""What a feed's answer holds, however it came (a poll's 200, a hub's delivery): its entries as the store compares
them, its title, site and the interval it asks for, and the WebSub hubs and topic it names.

A watched page (``"watch": "links"``) is read as the page's links, each an entry titled by its text, but for links
longer than a URL the API takes (``MAX_URL_BYTES``), as a feed's entries and a crawl's links leave them out: a page may
hold links of up to 2 MiB, and each was an entry and, with ``follow``, a request for a URL that long, megabytes sent
to the host it named for a few bytes of a gzipped page. Reading runs off
the event loop, bounded in time: a small answer in a thread, a larger one in an extraction child (``extraction.py``),
killed at its deadline. A thread cannot be stopped, and HTML takes time quadratic in its nesting to read (a page, or
an entry's content, of 2 MB of nested ``<div>`` took minutes of a thread, and a 10 MB one would take hours).
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from linkcast.core.errors import FetchError
from linkcast.core.feeds import WATCH_LINKS, PolledEntry
from linkcast.core.inputs import MAX_URL_BYTES
from linkcast.core.links import LinkLimits, find_anchors
from linkcast.extraction import INLINE_MAX_BYTES, ExtractionFailed, ExtractionPool, limits_from_json, limits_json
from linkcast.feeds.discovery import hub_and_self_in_headers, hub_and_self_links
from linkcast.feeds.model import FeedEntry
from linkcast.feeds.parse import FeedError, parse_feed
from linkcast.reading_threads import read_in_thread

# The longest a feed's reading may take.
READ_SECONDS = 10.0


@dataclass
class Reading:
    entries: list[PolledEntry]
    title: str | None = None
    site_link: str | None = None
    ttl: float | None = None  # the interval the feed asks for (RSS <ttl>, sy:updatePeriod), in seconds
    hubs: list[str] = field(default_factory=list)  # WebSub hubs, Link headers first
    topic: str | None = None  # the URL the feed calls its own (rel="self"): the Link header's, else the document's
    skip_mask: int = 0  # the hours and days the feed asks not to be polled in (feeds.skips)


@dataclass(frozen=True, slots=True)
class Answer:
    """The part of an answer that is read: its body, the URL it came from, its Content-Type and Link headers."""

    body: bytes
    url: str
    content_type: str | None = None
    link_headers: Sequence[str] = ()


def read_answer(watch: str, answer: Answer, limits: LinkLimits, max_entries: int) -> Reading:
    """``FeedError`` (a ``LinkcastError``) if a feed cannot be read."""
    if watch == WATCH_LINKS:
        hubs, topic = hub_and_self_links(list(answer.link_headers), answer.body, answer.url, answer.content_type)
        anchors = find_anchors(answer.body, answer.url, answer.content_type, limits)
        entries = [
            PolledEntry(url, "", {"title": text or None, "link": url})
            for url, text in anchors
            if len(url.encode()) <= MAX_URL_BYTES
        ]
        return Reading(entries[:max_entries], site_link=answer.url, hubs=hubs, topic=topic)
    parsed = parse_feed(answer.body, answer.url, answer.content_type, max_entries=max_entries)
    entries = [_polled(entry) for entry in parsed.entries]
    hubs, topic = hub_and_self_in_headers(list(answer.link_headers), answer.url)
    hubs, topic = hubs or parsed.hubs, topic or parsed.self_url  # the headers first (WebSub 4)
    return Reading(entries, parsed.title, parsed.site_link, parsed.ttl_seconds, hubs, topic, parsed.skip_mask)


async def read_off_loop(
    pool: ExtractionPool, watch: str, answer: Answer, limits: LinkLimits, max_entries: int, *, for_request: bool = False
) -> Reading:
    """``read_answer`` in a thread (a small answer) or in one of ``pool``'s children; ``too_complex`` past
    ``READ_SECONDS`` (the child's deadline: ``--parse-timeout``). ``for_request``: read for an API request (a hub's
    delivery), in the requests' share of the children (``ExtractionPool.run_for_request``)."""
    if len(answer.body) > INLINE_MAX_BYTES:
        return await _read_in_child(pool, watch, answer, limits, max_entries, for_request)
    try:
        return await asyncio.wait_for(read_in_thread(read_answer, watch, answer, limits, max_entries), READ_SECONDS)
    except TimeoutError:
        raise FetchError(f"the feed took more than {READ_SECONDS:g} s to read", code="too_complex") from None


async def _read_in_child(
    pool: ExtractionPool, watch: str, answer: Answer, limits: LinkLimits, max_entries: int, for_request: bool
) -> Reading:
    request = {
        "watch": watch,
        "url": answer.url,
        "content_type": answer.content_type,
        "link_headers": list(answer.link_headers),
        "max_entries": max_entries,
        **limits_json(limits),
    }
    too_slow = f"the feed took more than {pool.timeout:g} s to read"
    run = pool.run_for_request if for_request else pool.run
    got = await run("feed", request, answer.body, too_slow)
    if "error" not in got:
        entries = [PolledEntry(*entry) for entry in got.pop("entries")]
        return Reading(entries, **got)
    if "code" in got:
        raise FeedError(got["error"], code=got["code"])
    raise ExtractionFailed(f"reading the feed failed: {got['error']}", code="extract_failed")


def read_task(request: dict[str, Any], body: bytes) -> dict[str, Any]:
    """The ``feed`` task of an extraction child: ``read_answer``, its reading as JSON."""
    answer = Answer(body, request["url"], request["content_type"], request["link_headers"])
    reading = read_answer(request["watch"], answer, limits_from_json(request), request["max_entries"])
    got = {part.name: getattr(reading, part.name) for part in fields(reading)}
    got["entries"] = [(entry.entry_id, entry.fingerprint, entry.fields) for entry in reading.entries]
    return got


def _polled(entry: FeedEntry) -> PolledEntry:
    fields = {
        "title": entry.title,
        "link": entry.link,
        "published": entry.published,
        "updated": entry.updated,
        "author": entry.author,
        "summary": entry.summary,
        "links": entry.links,
    }
    present = {key: value for key, value in fields.items() if value is not None}
    return PolledEntry(entry.entry_id, entry.fingerprint, present)
