"""Feed polls: one job per feed, due at its next poll, taken from the store's fair scheduler like every other job
(so per-host politeness is shared with every other fetch, and never two polls of one feed run at once).

A poll behaves as a feed reader should, request by request:

- Conditional GET with exactly the validators the server last sent: ``ETag`` back verbatim as ``If-None-Match``,
  ``Last-Modified`` verbatim as ``If-Modified-Since``, each kept or dropped on its own and replaced on every 200,
  never made up, none kept past ``MAX_VALIDATOR_CHARS``. A 304 costs no parse and sends nothing; it updates the
  validators only of the version it names (``_names_stored``). No cookies, no cache-busting query, one
  ``User-Agent``.
- 301 and 308 (each hop of the chain up to the first that is not) move the feed: its stored URL changes, and a
  ``feed.moved`` event says so; 302 and 307 do not. 410 ends the feed (``feed.gone``; no more requests).
- Failures back off, a 429 from its first (at twice the interval); a 429 or 503 longer if its ``Retry-After`` says
  so; each failure is one ``feed.error`` event.
- The interval, jitter and back-off are ``schedule.py``'s. The poll itself is not retried: the next poll is the retry.
- A 200 also tells the feed's WebSub subscription which hub and topic the feed names (``websub.subscriptions``);
  while a hub pushes, polls come at ``--feed-max-interval``.
"""

from __future__ import annotations

import dataclasses
import logging
import time

from linkcast.core.errors import FetchError, LinkcastError
from linkcast.core.events import EventBody, Job
from linkcast.core.feeds import (
    FEED_ACTIVE,
    FEED_ERROR,
    FEED_ERROR_EVENT,
    FEED_GONE,
    FEED_GONE_EVENT,
    FEED_MOVED,
    WATCH_LINKS,
    FeedPoll,
    FeedRecord,
    feed_event,
)
from linkcast.core.links import LinkLimits
from linkcast.extraction import ExtractionPool
from linkcast.feeds.first_answers import FirstAnswers
from linkcast.feeds.reading import Answer, read_off_loop
from linkcast.feeds.schedule import Bounds, asked_interval, failure_interval, next_interval, outside_skipped
from linkcast.feeds.websub.subscriptions import Subscriptions, pushing_until
from linkcast.fetch import PAGE_ACCEPT, Fetcher, Resource
from linkcast.fetch.retry import parse_http_date
from linkcast.logs import loggable_url
from linkcast.metrics import Metrics
from linkcast.settings import Settings
from linkcast.store.base import Store
from linkcast.store_refusals import refused_by_the_store

log = logging.getLogger(__name__)

FEED_ACCEPT = (
    "application/rss+xml, application/atom+xml, application/feed+json, application/xml;q=0.9, text/xml;q=0.9, "
    "application/json;q=0.8, */*;q=0.5"
)
# The longest validator kept and sent back. A real ETag is a quoted hash of tens of characters, a Last-Modified 29; one
# of kilobytes, sent back verbatim at every poll, makes a request line many servers refuse (8 KiB a field is nginx's
# and Apache's default: 400 or 431, every poll, the feed never read again). Taken as not sent.
MAX_VALIDATOR_CHARS = 1024
# A 200 that cannot be read for what its document is (no feed, broken XML, a DTD): that version's validators are
# kept, sent back, and the server answers 304 until the document changes; the old ones would have it sent again at
# each poll, unread again. Not for a reading that failed on linkcast's side or may pass another time (too_complex:
# past the reading's time under load; extract_failed: a child process lost): the same version is asked for again.
DOCUMENT_FAULTS = frozenset({"not_a_feed", "invalid_feed", "unsafe_xml"})


class FeedJobs:
    """The handler of ``feed`` jobs."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        fetcher: Fetcher,
        extraction: ExtractionPool,
        metrics: Metrics,
        first_answers: FirstAnswers,
    ) -> None:
        self.settings = settings
        self.first_answers = first_answers
        self.store = store
        self.fetcher = fetcher
        self.extraction = extraction
        self.metrics = metrics
        self.bounds = Bounds(settings.feed_min_interval, settings.feed_max_interval, settings.feed_default_interval)
        self.limits = LinkLimits(settings.max_links, settings.max_result_bytes)
        self.subscriptions = Subscriptions(settings, store)

    async def process(self, job: Job) -> None:
        found = job.preread[0] if job.preread else await self.store.get_feed_and_subscription(job.request_id)
        if found is None or found[0].state == FEED_GONE:  # removed meanwhile: the job just ends
            await self.store.finish_feed_poll(job, FeedPoll(FeedRecord(job.request_id, {}, job.url, FEED_GONE)))
            return
        record, subscription = found
        began, now = time.perf_counter(), time.time()
        pushing = pushing_until(subscription, now)

        async def still_watched(target: str) -> None:
            """A redirect's hop is a request of its own: none for a feed removed since its poll began."""
            now_stored = await self.store.get_feed(record.feed_id)
            if now_stored is None or now_stored.created_at != record.created_at:
                raise FetchError(f"redirects to {target}, and the feed was removed", code="feed_removed")

        try:
            resource = self.first_answers.take(record.url) if record.last_poll is None else None
            if resource is None:
                resource = await self.fetcher.fetch_resource(
                    record.url, max_bytes=self.settings.max_body_bytes, accept=self._accept(record),
                    headers=_validators(record), retry=False, before_redirect=still_watched,
                )  # fmt: skip
                # The next poll counts from the answer, not from when this one began: the request may have waited
                # for its host's slot or spacing, its DNS, its connection, and counted from before, the next request
                # came that much sooner than the interval the server asked for after this one.
                now = time.time()
            poll = await self._answered(record, resource, now, pushing, subscription is not None)
        except LinkcastError as error:
            if refused_by_the_store(error):  # storing the hub it names: not the feed's failure (the poll runs again)
                raise
            poll = self._failed(record, error, time.time(), None)  # the back-off too counts from the failure
        await self.store.finish_feed_poll(job, poll)
        outcome = poll.record.last_error["code"] if poll.record.last_error else str(poll.record.last_status)
        self.metrics.fetches.labels(f"feed_{outcome}").inc()
        # A poll that changed nothing (a 304) is most polls: at info, every watched feed would write a line per
        # interval to say so, at some 20 us of the event loop's time each; the metric counts them.
        level = logging.DEBUG if poll.record.last_status == 304 and not poll.events else logging.INFO
        if log.isEnabledFor(level):
            log.log(
                level, "polled feed %s (%s): %s, %d entries, in %.0f ms", record.feed_id, loggable_url(record.url),
                outcome, len(poll.entries), (time.perf_counter() - began) * 1000,
            )  # fmt: skip

    @staticmethod
    def _accept(record: FeedRecord) -> str:
        return PAGE_ACCEPT if record.watch == WATCH_LINKS else FEED_ACCEPT

    async def _answered(
        self, record: FeedRecord, resource: Resource, now: float, pushing: float | None, subscribed: bool
    ) -> FeedPoll:
        """The poll's outcome; ``subscribed``: whether the feed had a WebSub subscription when the poll began."""
        record, events = _moved(record, resource)
        status = resource.status_code
        if status == 410:
            gone = dataclasses.replace(record, state=FEED_GONE, last_poll=now, last_status=status, next_poll=None)
            await self.subscriptions.feed_removed(record.feed_id, now)  # the hub is asked to stop pushing now
            return FeedPoll(gone, events=[*events, feed_event(FEED_GONE_EVENT, record.feed_id, url=record.url)])
        if status == 304 and not _validators(record):
            # "Not modified" since no version at all: the server is wrong, and its validators name no representation
            # linkcast holds; kept, they would be sent back and answered 304 for ever, the feed never read again.
            error = FetchError("the server answered 304 to a request that was not conditional", code="http_status")
            poll = self._failed(record, error, now, None, status)
            poll.events[:0] = events
            return poll
        if status == 304:
            # A 304 updates the stored answer its validator names, and no other (RFC 9111 4.3.4): one that names
            # another version (a new ETag) changes neither the validators nor the interval.
            names_stored = _names_stored(resource, record)
            asked = asked_interval(resource.headers, None, now) if names_stored else None  # 0 (max-age=0): the minimum
            interval = asked if asked is not None else record.interval
            unchanged = self._succeeded(record, status, now, interval, pushing, record.skip_mask)
            if record.state == FEED_ERROR and (record.last_error or {}).get("code") in DOCUMENT_FAULTS:
                # Unchanged since the version that could not be read: still unreadable, and still said so.
                unchanged.state, unchanged.last_error = FEED_ERROR, record.last_error
            if names_stored:  # each validator it sends replaces the stored one; one it does not send is kept
                unchanged.etag = _validator(resource, "ETag", record.etag)
                unchanged.last_modified = _validator(resource, "Last-Modified", record.last_modified)
            return FeedPoll(unchanged, events=events)
        if not 200 <= status < 300:
            error = FetchError(f"the server answered {status}", code="http_status")
            retry_after = resource.headers.get("Retry-After") if status in (429, 503) else None
            served_at = parse_http_date(resource.headers.get("Date")) or now
            poll = self._failed(record, error, now, retry_after, status, served_at)
            poll.events[:0] = events
            return poll
        answer = Answer(
            resource.body, resource.final_url, resource.headers.get("Content-Type"), resource.header_values("Link")
        )
        try:
            reading = await read_off_loop(
                self.extraction,
                record.watch,
                answer,
                self.limits,
                self.settings.max_entries_per_poll,
            )
        except LinkcastError as error:
            poll = self._failed(record, error, now, None)
            poll.events[:0] = events
            if error.code in DOCUMENT_FAULTS:  # validators are replaced on every 200, one that cannot be read too
                poll.record.etag = _validator(resource, "ETag")
                poll.record.last_modified = _validator(resource, "Last-Modified")
            return poll
        # The topic is the rel=self URL where the feed names one (WebSub 4). One that names a hub and no self is
        # still a resource with a URL: the feed's, where permanent redirects led (a temporary one's target may
        # change at each poll, and each change would be a new subscription).
        topic = reading.topic or record.url
        if not await self.subscriptions.noticed(record.feed_id, reading.hubs, topic, answer.url, now, known=subscribed):
            pushing = None  # the feed's hub stopped pushing it, or a new subscription has yet to be verified
        asked = asked_interval(resource.headers, reading.ttl, now)
        # The hours it asks to be left alone in now are those its next poll keeps out of.
        succeeded = self._succeeded(record, status, now, asked, pushing, reading.skip_mask)
        # The validators the server sent with this 200, each on its own: one it did not send is dropped.
        succeeded.etag = _validator(resource, "ETag")
        succeeded.last_modified = _validator(resource, "Last-Modified")
        succeeded.title = reading.title or record.title
        succeeded.site_link = reading.site_link or record.site_link
        return FeedPoll(succeeded, reading.entries, events)

    def _succeeded(
        self, record: FeedRecord, status: int, now: float, asked: float | None, pushing: float | None, skip_mask: int
    ) -> FeedRecord:
        """The record after a 200 or 304; ``skip_mask``: the hours and days the feed asks not to be polled in."""
        interval = self.bounds.clamp(asked if asked is not None else self.bounds.default)
        if pushing is not None:  # the hub pushes: poll seldom, and again when the lease would end
            next_poll = min(now + next_interval(self.bounds, self.bounds.maximum), pushing)
        else:
            due = now + next_interval(self.bounds, interval)
            next_poll = outside_skipped(self.bounds, skip_mask, now, due, interval)
        return dataclasses.replace(
            record, state=FEED_ACTIVE, last_poll=now, last_status=status, last_error=None, failures=0,
            polls=record.polls + 1, interval=interval, next_poll=next_poll, skip_mask=skip_mask,
        )  # fmt: skip

    def _failed(
        self,
        record: FeedRecord,
        error: LinkcastError,
        now: float,
        retry_after: str | None,
        status: int | None = None,
        served_at: float | None = None,
    ) -> FeedPoll:
        failures = record.failures + 1
        base = record.interval or self.bounds.default
        # A 429 says the pace that brought it is too fast (RFC 6585 4), whatever its Retry-After: it backs off as one
        # failure more would, so the first already doubles the interval (another failure's first keeps the pace).
        pace = failures + 1 if status == 429 else failures
        wait = failure_interval(self.bounds, retry_after, served_at or now, pace, base)
        next_poll = outside_skipped(self.bounds, record.skip_mask, now, now + wait, wait)
        failed = dataclasses.replace(
            record, state=FEED_ERROR, last_poll=now, last_status=status, last_error=error.to_dict(),
            failures=failures, next_poll=next_poll,
        )  # fmt: skip
        event = feed_event(
            FEED_ERROR_EVENT, record.feed_id, url=record.url, error=error.to_dict(), next_poll=failed.next_poll
        )
        return FeedPoll(failed, events=[event])


def _validators(record: FeedRecord) -> dict[str, str]:
    """Exactly what the server last sent, verbatim, each only if it sent it (and one an older release kept past
    ``MAX_VALIDATOR_CHARS`` not at all)."""
    headers: dict[str, str] = {}
    if record.etag and len(record.etag) <= MAX_VALIDATOR_CHARS:
        headers["If-None-Match"] = record.etag
    if record.last_modified and len(record.last_modified) <= MAX_VALIDATOR_CHARS:
        headers["If-Modified-Since"] = record.last_modified
    return headers


def _validator(resource: Resource, name: str, unsent: str | None = None) -> str | None:
    """The validator ``name`` the answer sent, verbatim; ``unsent`` if it sent none, or one past
    ``MAX_VALIDATOR_CHARS``."""
    value = resource.headers.get(name)
    return value if value is not None and len(value) <= MAX_VALIDATOR_CHARS else unsent


def _names_stored(resource: Resource, record: FeedRecord) -> bool:
    """Whether a 304 is about the version stored (RFC 9111 4.3.4): its ETag is the stored one (weak comparison, RFC
    9110 8.8.3.2), or with no ETag its Last-Modified is, or it sends neither. One that names another version, taken
    as the feed's validator, would be sent back and answered 200 with the unchanged feed, or 304 to a version never
    read."""
    etag = resource.headers.get("ETag")
    if etag is not None:
        return record.etag is not None and etag.removeprefix("W/") == record.etag.removeprefix("W/")
    modified = resource.headers.get("Last-Modified")
    return modified is None or modified == record.last_modified


def _moved(record: FeedRecord, resource: Resource) -> tuple[FeedRecord, list[EventBody]]:
    """The record at its new URL if the redirects began with permanent ones (up to the first that is not)."""
    target = resource.permanent_url
    if target == record.url:
        return record, []
    event = feed_event(FEED_MOVED, record.feed_id, url=target, previous_url=record.url)
    return dataclasses.replace(record, url=target), [event]
