"""The store interface: requests and their jobs, and the append-only event log.

Every backend keeps the same promises, proven by one contract test suite (``tests/store/test_contract.py``):

- ``submit`` records a request, queues its job and appends its ``accepted`` event, or returns the existing record
  (same id, same URL) or raises ``Conflict`` (same id, other URL). ``retry`` queues a failed request again.
- ``list_requests`` pages through the records in submission order, by an opaque cursor, optionally by state. A
  cursor of any listing (requests, crawls, feeds) stays good across prunes and removals: whatever is made after it
  is listed after it.
- Jobs are scheduled fairly between hosts and between flows (``core/flows.py``: a client's submissions, a crawl, a
  feed, a webhook endpoint), each job tagged by start-time fair queuing (``fair_queue.py``): a flow's many jobs on
  many hosts do not hold up another flow's, a host's many jobs do not hold up another host's, and the jobs of one
  flow on one host start in the order they were queued.
- A job handed out by ``next_job`` is leased to its worker until ``finish`` or ``release``; a job whose lease lapses
  (its worker died, or could neither finish nor release it) is handed out again, within
  ``--job-visibility-timeout`` seconds (at-least-once). ``finish`` appends a terminal event only once per request
  (exactly-once to clients), and only for the job's URL (a request pruned and made again under its id with
  another URL while a late worker held its old job takes nothing of that job), and a job handed out
  ``MAX_ATTEMPTS`` times without an outcome ends in one ``worker_lost`` error instead of being handed out forever.
- Event ids strictly increase; ``events_after`` and ``wait_events`` read the log in id order.
- Failures are typed, the same on every backend: a store that cannot be reached raises ``StoreUnavailable`` (503),
  one whose data is damaged ``StoreCorrupt`` (503), one with no room left for writes ``StoreFull`` (507); ``health``
  remembers the last such failure until a write that changed something succeeds again (``probe_write`` is one; a
  full store, until one that needs room does: ``NEEDS_ROOM``).
"""

from __future__ import annotations

import asyncio
import functools
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Collection
from dataclasses import dataclass
from typing import Any, TypeVar

from linkcast.core.crawls import CrawlOutcome, CrawlRecord, page_body
from linkcast.core.errors import Conflict, FetchError, LinkcastError, StoreCorrupt, StoreFull, StoreUnavailable
from linkcast.core.events import (
    CRAWL_JOB,
    FEED_JOB,
    WEBHOOK_JOB,
    WEBSUB_JOB,
    Event,
    EventBody,
    Job,
    Page,
    RequestRecord,
    error_body,
)
from linkcast.core.feeds import FEED_ERROR, FEED_ERROR_EVENT, FeedPoll, FeedRecord, PolledEntry, feed_event
from linkcast.core.flows import NO_FLOW
from linkcast.core.webhooks import Delivery, Endpoint
from linkcast.core.websub import Subscription
from linkcast.settings import Settings
from linkcast.store.listing import LISTING_BYTES

# A job handed out this many times without an outcome (its workers died with it, or could not store what they
# found) ends in a 'worker_lost' error instead of another delivery.
MAX_ATTEMPTS = 5

# The contract's methods that change the store: a success of one clears a remembered write failure.
WRITES = frozenset(
    {
        "submit",
        "submit_many",
        "retry",
        "claim_job",
        "append_started",
        "finish",
        "release",
        "prune",
        "set_crawl_delay",
        "take_host_turn",
        "create_crawl",
        "claim_crawl_url",
        "finish_crawl_page",
        "cancel_crawl",
        "create_feed",
        "finish_feed_poll",
        "poll_feed_by",
        "remove_feed",
        "record_pushed_entries",
        "swap_subscription",
        "finish_subscription_job",
        "save_webhook",
        "delete_webhook",
        "add_webhook_deliveries",
        "save_webhook_delivery",
        "wake_webhooks",
        "wake_webhook",
        "finish_webhook_job",
        "probe_write",
    }
)
# Write methods whose answer, when it is this value, says that they changed nothing (no job to claim, nothing to
# prune): such a success says nothing of the room left (on SQLite a transaction that changes nothing commits on a
# full disk), so it does not clear a remembered failure. Idle workers claim nothing every second: /healthz said ok
# while every submission was refused with 507.
CHANGED_NOTHING: dict[str, object] = {"claim_job": None, "prune": 0, "poll_feed_by": False, "take_host_turn": None}
# Writes that add before they free anything: only a success of one of these ends a remembered StoreFull. Redis at
# maxmemory still runs a script whose first write frees memory (a job's end, a release), and all of it after that.
NEEDS_ROOM = frozenset({"probe_write", "submit", "submit_many", "retry", "create_crawl", "create_feed", "save_webhook"})
_EVERY_SUCCESS = object()  # a write whose every success counts
# Every method a backend implements for the contract: failures inside them are translated to the typed errors (one
# left out raised the backend's own: PUT /webhooks answered 500, with a traceback, while Redis was out of memory).
GUARDED = WRITES | {
    "open",
    "get_request",
    "list_requests",
    "get_crawl",
    "list_crawls",
    "crawl_pages",
    "get_feed",
    "get_feed_and_subscription",
    "list_feeds",
    "count_feeds",
    "feed_entries",
    "get_subscription",
    "get_webhook",
    "list_webhooks",
    "count_webhooks",
    "pending_webhook_deliveries",
    "webhook_deliveries",
    "get_webhook_delivery",
    "events_after",
    "wait_events",
    "last_event_id",
    "first_event_id",
    "log_epoch",
    "queue_depth",
}

Method = TypeVar("Method", bound=Callable[..., Awaitable[Any]])


@dataclass
class StoreHealth:
    """The last outage or full store seen by a write, until a write that changed something succeeds again
    (``/healthz`` reports it)."""

    error: LinkcastError | None = None
    since: float = 0.0

    def failed(self, error: LinkcastError) -> None:
        if self.error is None:
            self.since = time.time()
        self.error = error

    def recovered(self, *, proves_room: bool = False) -> None:
        """A write succeeded. A full store is over only once one that needs room does (``NEEDS_ROOM``): Redis at
        maxmemory still runs the scripts that free memory before they add any (a job's end, a release), and a busy
        service said ok while every submission was refused with 507."""
        if isinstance(self.error, StoreFull) and not proves_room:
            return
        self.error = None


class Store(ABC):
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.health = StoreHealth()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """Wrap each contract method a backend defines, so that its own exceptions leave as the typed errors."""
        super().__init_subclass__(**kwargs)
        for name in GUARDED:
            method = getattr(cls, name)
            if not getattr(method, "__isabstractmethod__", False) and not hasattr(method, "_store_guarded"):
                nothing = CHANGED_NOTHING.get(name, _EVERY_SUCCESS)
                room = name in NEEDS_ROOM
                setattr(cls, name, _guarded(method, writes=name in WRITES, changed_nothing=nothing, needs_room=room))

    def translate_error(self, error: Exception) -> LinkcastError | None:
        """The backend's exception as ``StoreUnavailable`` or ``StoreFull``, or None to let it through as it is."""
        return None

    async def open(self) -> None:
        """Connect, create what is missing, and return jobs left running by a crash to the queue."""

    async def probe_write(self) -> None:
        """Write a few bytes that need room and that nothing reads: whether the store takes writes now. ``/healthz``
        asks while a failure is remembered, since only a write clears it, and an API-only replica may make none."""

    async def close(self) -> None:
        """Release connections; jobs still owned stay recoverable."""

    @abstractmethod
    async def submit(self, request_id: str, url: str, flow: str = NO_FLOW) -> tuple[RequestRecord, bool]:
        """Accept a request, its job queued in ``flow`` (``core/flows.py``: the client's): ``(record, True)`` when
        new, ``(existing, False)`` for a repeat; ``Conflict`` if taken."""

    async def submit_many(
        self, requests: list[tuple[str, str]], flow: str = NO_FLOW
    ) -> list[tuple[RequestRecord, bool] | LinkcastError]:
        """``submit`` each ``(request_id, url)`` in ``flow``, in order: each one's answer, or its error (a
        ``Conflict``)."""
        answers = await asyncio.gather(*(self.submit(rid, url, flow) for rid, url in requests), return_exceptions=True)
        for answer in answers:
            if isinstance(answer, BaseException) and not isinstance(answer, Conflict):
                raise answer  # the store failed: the whole batch says so
        return answers  # type: ignore[return-value]

    @abstractmethod
    async def retry(self, request_id: str, flow: str = NO_FLOW) -> RequestRecord:
        """Queue a failed request again (its job in ``flow``, the retrying client's): its state back to ``queued``,
        attempts and outcome cleared, an ``accepted`` event with ``"retry": true``. ``NotFound`` for an unknown id,
        ``Conflict`` for one that has not failed."""

    @abstractmethod
    async def get_request(self, request_id: str) -> RequestRecord | None:
        """The request's record, or None for an unknown id."""

    @abstractmethod
    async def list_requests(
        self, state: str | None, after: str | None, limit: int, max_bytes: int = LISTING_BYTES
    ) -> Page:
        """Up to ``limit`` records in the order they were submitted, after the cursor ``after``, optionally only those
        in ``state``; the page's ``next`` reads on (None when there is no more). The page stops after the record
        whose stored outcome takes the bytes read past ``max_bytes`` (``listing``), and no more than that is read."""

    async def next_job(self, worker_id: str, timeout: float) -> Job | None:
        """Hand out the oldest queued job, leased to ``worker_id``, or return None after ``timeout`` seconds.

        A job that has been handed out ``MAX_ATTEMPTS`` times already is finished with a ``worker_lost`` error here
        instead (its workers kept dying with it), and the next one is looked for.
        """
        deadline = time.monotonic() + timeout
        while True:
            job = await self.claim_job(worker_id, max(0.0, deadline - time.monotonic()))
            if job is None or job.attempt <= MAX_ATTEMPTS:
                return job
            lost = FetchError(f"gave up after {MAX_ATTEMPTS} attempts ended without an outcome", code="worker_lost")
            await self.fail(job, lost)

    async def fail(self, job: Job, error: LinkcastError) -> None:
        """End ``job`` with ``error`` as its outcome, whatever its kind."""
        if job.kind == CRAWL_JOB:
            depth, referrer = job.data.get("depth", 0), job.data.get("referrer")
            body = page_body(job.request_id, job.url, depth=depth, referrer=referrer, error=error.to_dict())
            await self.finish_crawl_page(job, CrawlOutcome(body, "failed"))
        elif job.kind == FEED_JOB:
            await self._fail_poll(job, error)
        elif job.kind == WEBSUB_JOB:
            await self._fail_subscription_job(job)
        elif job.kind == WEBHOOK_JOB:  # its delivery stays pending; the endpoint is tried again in a while
            await self.finish_webhook_job(job, time.time() + self.settings.job_visibility_timeout)
        else:
            await self.finish(job, error_body(job.request_id, job.url, error, timings={}))

    @abstractmethod
    async def claim_job(self, worker_id: str, timeout: float) -> Job | None:
        """Lease the oldest queued job (or one whose lease lapsed) to ``worker_id``, counting the attempt; None after
        ``timeout`` seconds. ``next_job`` is what workers call."""

    @abstractmethod
    async def append_started(self, job: Job, body: EventBody) -> Event:
        """Append the job's ``started`` event."""

    @abstractmethod
    async def finish(self, job: Job, body: EventBody) -> Event | None:
        """Store the terminal event, finish the record and acknowledge the job, atomically.

        Returns None (and appends nothing) when the request already has its terminal event.
        """

    @abstractmethod
    async def release(self, job: Job, retry_at: float | None = None) -> None:
        """Give an unfinished job back to the queue (a draining worker). With ``retry_at`` (the store refused the
        job's outcome: full, unreachable; or the process stops, due at once), it is handed out again no sooner than
        that time, and this hand-out does not count as an attempt but for its first: its worker did not die with it,
        and a disk full for an hour must neither end the job in ``worker_lost`` nor have it fetched again and again
        meanwhile. The next hand-out's attempt is 2 at least: a job tells by ``attempt > 1`` that a run of its own
        may have done part of its work (a crawl page that marked its redirect's target visited fetches it anyway)."""

    @abstractmethod
    async def set_crawl_delay(self, host: str, delay: float, until: float) -> None:
        """Space the starts of ``host``'s jobs ``delay`` seconds apart, one at a time, until ``until`` (a robots.txt
        ``Crawl-delay``); every worker process sharing the store keeps to it. The next start is ``delay`` from now at
        the soonest: the job that read the delay is about to fetch from the host."""

    @abstractmethod
    async def take_host_turn(self, host: str, within: float | None = None) -> float | None:
        """The seconds to wait before a request to ``host`` that no job of its own was claimed for (a crawl's redirect
        to another host): 0 without a ``Crawl-delay`` in force; else until the host's next start (0 if it has come),
        which moves one delay past that turn, so that the host's jobs and other such requests come after it. None,
        and no turn taken, if that turn is more than ``within`` seconds away: a caller that will not wait that long
        makes no request, rather than one before its turn."""

    # -- crawls ---------------------------------------------------------------------------------------------------

    @abstractmethod
    async def create_crawl(self, crawl_id: str, spec: dict[str, Any], seeds: list[str]) -> tuple[CrawlRecord, bool]:
        """Record a crawl with its options (``spec``, canonical: ``max_pages`` in it bounds the URLs admitted), admit
        its seeds (URLs without fragment) and append ``crawl.accepted``: ``(record, True)``; ``(existing, False)``
        for a repeat with the same options; ``Conflict`` for the same id with others."""

    @abstractmethod
    async def get_crawl(self, crawl_id: str) -> CrawlRecord | None:
        """The crawl's record, or None for an unknown id."""

    @abstractmethod
    async def list_crawls(self, after: str | None, limit: int, max_bytes: int = LISTING_BYTES) -> Page:
        """Up to ``limit`` crawl records in creation order, after the cursor ``after``; the page stops after the
        record whose options (up to 1,000 seeds: a request body, 1 MiB) take it past ``max_bytes`` (``listing``)."""

    @abstractmethod
    async def crawl_pages(self, crawl_id: str, after: str | None, limit: int, max_bytes: int = LISTING_BYTES) -> Page:
        """Up to ``limit`` of the crawl's page and skipped events (with ``seq``, their place), in the order they
        ended, after the cursor ``after``; the page stops after the event that takes the bytes read past
        ``max_bytes`` (``listing``), and no more than that is read."""

    @abstractmethod
    async def claim_crawl_url(self, crawl_id: str, url: str) -> bool:
        """Add ``url`` to the crawl's visited set; False if it was there (a redirect to it is then not followed)."""

    @abstractmethod
    async def finish_crawl_page(self, job: Job, outcome: CrawlOutcome) -> bool:
        """End a crawl job with its outcome, atomically (``crawl_ledger``): the event once, the counts, the links
        admitted up to ``max_pages``, ``crawl.progress`` at most once a second, ``crawl.done`` when nothing is left.
        False if nothing was recorded (the crawl had ended, or this URL's outcome was recorded already); True means
        that the crawl's visited set holds every link of ``outcome`` (a worker may count them as duplicates from then
        on without asking: ``crawl/known_links.py``), but for the URLs over ``max_pages`` past the first
        ``crawl_ledger.MAX_REMEMBERED_OVER_LIMIT``, which the store counts as ``page_limit`` at each mention: a worker
        that knows them counts their later mentions as duplicates instead (only the split of the skips differs)."""

    @abstractmethod
    async def cancel_crawl(self, crawl_id: str) -> CrawlRecord:
        """Stop a crawl: its queued jobs dropped, state ``cancelled``, ``crawl.done`` with ``cancelled: true``; a
        crawl that has ended is left as it is. ``NotFound`` for an unknown id."""

    # -- feeds ----------------------------------------------------------------------------------------------------

    @abstractmethod
    async def create_feed(self, record: FeedRecord) -> tuple[FeedRecord, bool]:
        """Watch a feed (``record``: its id, what was asked, the URL found), due for its first poll now, with a
        ``feed.accepted`` event: ``(record, True)``; ``(existing, False)`` for a repeat of the same ``spec``;
        ``Conflict`` for the same id with another."""

    @abstractmethod
    async def get_feed(self, feed_id: str) -> FeedRecord | None:
        """The feed's record, or None for an unknown id."""

    @abstractmethod
    async def get_feed_and_subscription(self, feed_id: str) -> tuple[FeedRecord, Subscription | None] | None:
        """The feed's record and its WebSub subscription (or None), each as ``get_feed`` and ``get_subscription``
        give it, in one read: what a poll needs before it fetches. None for an unknown feed."""

    @abstractmethod
    async def list_feeds(self, after: str | None, limit: int) -> Page:
        """Up to ``limit`` feed records in the order they were added, after the cursor ``after``."""

    @abstractmethod
    async def count_feeds(self) -> int:
        """How many feeds are stored (watched, failing or gone: every record ``DELETE /feeds/<id>`` would remove)."""

    @abstractmethod
    async def feed_entries(self, feed_id: str, after: str | None, limit: int, max_bytes: int = LISTING_BYTES) -> Page:
        """Up to ``limit`` of the feed's ``feed.entry`` events (with ``seq``), oldest first, after ``after``; the page
        stops after the entry that takes it past ``max_bytes`` (``listing``), and no more than that is read."""

    @abstractmethod
    async def finish_feed_poll(self, job: Job, poll: FeedPoll) -> None:
        """End a poll with its outcome, atomically (``feed_ledger``): new and changed entries sent once each, the
        record stored, the next poll queued unless the feed is gone. A poll of a feed removed since it began takes
        nothing, even when the id is watched again (the record's ``created_at`` differs): that feed keeps its own
        options and one poll job."""

    @abstractmethod
    async def poll_feed_by(self, feed_id: str, when: float) -> bool:
        """Bring the feed's next poll forward to ``when`` (a hub stopped pushing it: it was polled seldom): its
        queued poll job is moved and its record's ``next_poll`` set. False, and nothing changed, for an unknown or
        gone feed, one whose next poll comes by ``when`` already, or one being polled now (that poll queues its
        next when it ends)."""

    @abstractmethod
    async def remove_feed(self, feed_id: str) -> FeedRecord:
        """Stop watching: the record, seen-set, entries and queued poll go; ``feed.removed``. ``NotFound`` if
        unknown."""

    @abstractmethod
    async def record_pushed_entries(
        self, feed_id: str, entries: list[PolledEntry], created_at: float | None = None
    ) -> bool:
        """A hub's delivery of the feed: its entries through the feed's seen-set as a poll's go (``feed_ledger``),
        the poll schedule untouched. False (nothing recorded) for an unknown feed, and with ``created_at`` (that of
        the feed the delivery was read for) for one removed and added again under its id since."""

    # -- WebSub subscriptions ---------------------------------------------------------------------------------------

    @abstractmethod
    async def get_subscription(self, feed_id: str) -> Subscription | None:
        """The feed's subscription (with its ``version``), or None."""

    @abstractmethod
    async def swap_subscription(self, feed_id: str, expected_version: int, new: Subscription | None) -> bool:
        """Replace the feed's subscription, atomically, if its version is still ``expected_version`` (0: none is
        stored); ``new=None`` deletes it. The stored one's version is the expected one plus one. The subscription's
        job (``WEBSUB_JOB``) is queued for ``new.due_at``, replacing one queued before; one running now queues its
        next when it finishes. False (nothing changed) if another change came first."""

    @abstractmethod
    async def finish_subscription_job(self, job: Job) -> None:
        """End a subscription's job, and queue its next for the subscription's ``due_at`` as it is now (if any)."""

    # -- webhooks (core/webhooks.py) -------------------------------------------------------------------------------

    @abstractmethod
    async def save_webhook(self, endpoint: Endpoint, expected_version: int) -> bool:
        """Store ``endpoint``, atomically, if its stored version is still ``expected_version`` (0: none is stored;
        the new one's cursor is then ``endpoint.cursor``). The stored version is the expected one plus one; the
        cursor and the outbox are left as they are. False (nothing changed) if another change came first."""

    @abstractmethod
    async def get_webhook(self, endpoint_id: str) -> Endpoint | None:
        """The endpoint (with its ``version`` and ``cursor``), or None."""

    @abstractmethod
    async def list_webhooks(self, after: str | None, limit: int) -> Page:
        """Up to ``limit`` endpoints in the order of their ids, after the id ``after``."""

    @abstractmethod
    async def count_webhooks(self) -> int:
        """How many endpoints are stored, those of a request (ids ``urls~``, ``crawls~``, ``feeds~``…) left out."""

    @abstractmethod
    async def delete_webhook(self, endpoint_id: str, expected_version: int | None = None) -> bool:
        """Remove the endpoint, its outbox and its queued job (a running one ends without effect); False if
        unknown. With ``expected_version``, only if the stored version is still that one (False, nothing removed,
        otherwise): an endpoint another request took up meanwhile (``subscriptions.subscribe``) is kept."""

    @abstractmethod
    async def add_webhook_deliveries(
        self, endpoint_id: str, expected_cursor: int, cursor: int, deliveries: list[Delivery]
    ) -> bool:
        """Move the endpoint's cursor from ``expected_cursor`` to ``cursor`` and add ``deliveries`` (new event ids
        only), atomically; False (nothing changed) if the cursor was not the expected one or the endpoint is
        gone."""

    @abstractmethod
    async def pending_webhook_deliveries(
        self, endpoint_id: str, limit: int, max_bytes: int = LISTING_BYTES
    ) -> list[Delivery]:
        """Up to ``limit`` of the endpoint's pending deliveries, in event-id order, stopping after the one whose
        payload takes them past ``max_bytes`` (``listing``: each carries its event), no more than that read."""

    @abstractmethod
    async def save_webhook_delivery(self, delivery: Delivery, expected_attempts: int | None = None) -> None:
        """Store a delivery's progress (it must exist: one of a deleted endpoint is dropped). Ended deliveries beyond
        the newest ``KEEP_ENDED_DELIVERIES`` of the endpoint are dropped (``prune`` drops those ended too long ago).
        With ``expected_attempts`` (a run's attempt: the attempts it read), only if the delivery is still pending with
        that many: another run of the endpoint (its job handed out again while this one sent) has recorded this
        attempt already, and what it ended stays; and only over the delivery it was made of (the same
        ``created_at``): an outbox made again meanwhile under the endpoint's id may hold another of the same event id
        (on Redis, restarted without its data, its ids start over), which the attempt never sent."""

    @abstractmethod
    async def webhook_deliveries(
        self, endpoint_id: str, after: str | None, limit: int, max_bytes: int = LISTING_BYTES
    ) -> Page:
        """Up to ``limit`` of the endpoint's deliveries (pending and ended), in event-id order, after ``after``,
        stopping after the one whose payload takes the page past ``max_bytes`` (``listing``)."""

    @abstractmethod
    async def get_webhook_delivery(self, endpoint_id: str, event_id: int) -> Delivery | None:
        """One delivery of the endpoint, or None."""

    @abstractmethod
    async def wake_webhooks(self, request_ids: Collection[str] | None) -> None:
        """Queue the job (``WEBHOOK_JOB``, due now) of every active endpoint that takes every request's events or
        those of one of ``request_ids`` (None: every active endpoint). An endpoint whose job is queued or running
        already is woken once more when that job finishes, so that no event appended meanwhile waits for the next
        wake."""

    @abstractmethod
    async def wake_webhook(self, endpoint_id: str) -> None:
        """``wake_webhooks`` for one endpoint (made, re-enabled, a delivery retried); nothing if it is not active."""

    @abstractmethod
    async def finish_webhook_job(self, job: Job, next_at: float | None) -> None:
        """End an endpoint's job: the next is queued now if it was woken meanwhile, else for ``next_at`` (its next
        due delivery, None: nothing until woken)."""

    async def _fail_poll(self, job: Job, error: LinkcastError) -> None:
        """A poll whose workers kept dying with it: an error, and the next poll after the longest interval."""
        record = await self.get_feed(job.request_id)
        if record is None:
            await self.finish_feed_poll(job, FeedPoll(FeedRecord(job.request_id, {}, job.url)))
            return
        now = time.time()
        record.state, record.last_poll, record.last_error = FEED_ERROR, now, error.to_dict()
        record.failures += 1
        record.next_poll = now + self.settings.feed_max_interval
        event = feed_event(FEED_ERROR_EVENT, record.feed_id, url=record.url, error=error.to_dict(),
                           next_poll=record.next_poll)  # fmt: skip
        await self.finish_feed_poll(job, FeedPoll(record, events=[event]))

    async def _fail_subscription_job(self, job: Job) -> None:
        """A subscription job whose workers kept dying with it: it acts again only after the longest interval."""
        for _ in range(3):
            found = await self.get_subscription(job.request_id)
            if found is None:
                break
            found.due_at = time.time() + self.settings.feed_max_interval
            if await self.swap_subscription(job.request_id, found.version, found):
                break
        await self.finish_subscription_job(job)

    def forget(self, job: Job) -> None:
        """Stop renewing ``job``'s lease without touching the store (it could be neither finished nor released):
        it goes back to the queue once the lease lapses."""

    @abstractmethod
    async def events_after(
        self,
        since: int,
        request_ids: Collection[str] | None = None,
        limit: int = 1000,
        until: int | None = None,
        max_bytes: int = LISTING_BYTES,
    ) -> list[Event]:
        """Up to ``limit`` retained events with ``since < id <= until``, oldest first, optionally of some requests;
        the list stops after the event that takes their JSON past ``max_bytes`` (``listing``: a result may hold
        8 MiB of links, and any WebSocket client may replay the log), and no more than that is read."""

    @abstractmethod
    async def wait_events(self, after: int, timeout: float) -> list[Event]:
        """Events after ``after``, waiting up to ``timeout`` seconds for the first one (the hub's tail)."""

    @abstractmethod
    async def last_event_id(self) -> int:
        """The id of the newest event, 0 for an empty log."""

    @abstractmethod
    async def first_event_id(self) -> int:
        """The id of the oldest retained event, or the next id to be given when the log is empty."""

    async def log_epoch(self) -> str:
        """What names this event log: it changes when the log starts over under running processes, its ids given
        from 1 again (a Redis restarted without its data). A log in memory or in an SQLite file never does."""
        return ""

    @abstractmethod
    async def queue_depth(self) -> int:
        """Jobs waiting to be taken."""

    @abstractmethod
    async def prune(self, older_than: float, keep_events: int) -> int:
        """Drop events and finished requests older than the ``older_than`` timestamp, and beyond the newest
        ``keep_events`` of each (retention applies the same settings to both); return how many events were dropped.
        Also dropped, once older than ``older_than``:

        - crawls that ended, with their pages and visited set (their id may then name a new crawl);
        - every feed's entries (``feed_entries``) sent before it (a feed keeps its newest 10,000 at most, too); the
          next entry's ``seq`` still follows the last one given;
        - webhook deliveries that ended (``Delivery.ended_at``), each with its copy of its event;
        - what the scheduler keeps of a host with no job left (its spacing, its ``Crawl-delay``), once both have
          passed: hosts are as many as the URLs anyone submits name.

        Kept however old, by design: requests queued or running, crawls running, pending deliveries (work still to
        do), watched feeds with their seen-sets (bounded by ``feed_ledger``), endpoints made with ``PUT``. A listing's
        cursor read before a prune reads on past what it dropped, missing nothing made since. A request or crawl
        dropped leaves alone the events of a crawl, feed or request of the same id (each is named apart in the API,
        all share ``request_id`` in the log): ``events_after`` filtered by it still finds them."""


def _guarded(
    method: Method, *, writes: bool, changed_nothing: object = _EVERY_SUCCESS, needs_room: bool = False
) -> Method:
    """``method`` with the backend's exceptions translated, and the store's health kept up to date."""

    @functools.wraps(method)
    async def guarded(self: Store, *args: Any, **kwargs: Any) -> Any:
        try:
            result = await method(self, *args, **kwargs)
        except (StoreUnavailable, StoreFull, StoreCorrupt) as error:
            self.health.failed(error)
            raise
        except LinkcastError:
            raise
        except Exception as error:
            translated = self.translate_error(error)
            if translated is None:
                raise
            self.health.failed(translated)
            raise translated from error
        if writes and result != changed_nothing:
            self.health.recovered(proves_room=needs_room)
        return result

    guarded._store_guarded = True  # type: ignore[attr-defined]
    return guarded  # type: ignore[return-value]
