"""The callback a hub calls, ``/websub/<feed id>/<callback token>``, whatever replica it lands on (everything it
needs is in the store).

- Verification of intent (GET, WebSub 5.3): ``hub.challenge`` is echoed only for a pending subscription or
  unsubscription whose ``hub.topic`` (the same URL once percent-encoding is normalized: ``same_topic``) and
  ``hub.mode`` match, or for the subscription held (a hub's reconfirmation, or its retry: ``_held``); anything else
  is a 404. ``hub.mode=denied`` for the subscription's topic is recorded (the feed goes on being polled: at once,
  if the hub was pushing it, WebSub 5.2) and answered 200.
- Content distribution (POST, WebSub 7 and 8): accepted only with a valid ``X-Hub-Signature``. A badly signed body
  is answered 2xx as the specification allows (a prober learns nothing of the secret), dropped and counted, and so
  is one whose Link ``rel=self`` (else document) names a topic other than the subscription's (``_of_its_topic``).
  An unsigned one is dropped, counted and refused (403, ``UNSIGNED``): every subscription is made with a secret, so
  a hub MUST sign (WebSub 8), and websub.rocks 302 fails a subscriber that takes an unsigned body with a 2xx.
  An accepted body is read as the feed and its entries go through the feed's seen-set exactly as a poll's do, within
  the push budget (``_budget_left``, spent in the swap that reads it, so that deliveries arriving together share it;
  past it, 429). A callback that is not (or no longer) a subscription's answers
  410 Gone, which tells its hub to stop, before the body is read (``admits``, called by the web layer); so are an
  unsigned delivery (403) and one past the budget (429): a body of up to --max-body-bytes that will be dropped
  whatever it holds is not read first. A signature is only checked once the body is read, so a delivery larger than
  an API body (``--max-request-bytes``) is read and parsed only within its share of one budget per process
  (``--websub-memory-bytes``, ``memory_for``), or answered 503 (``BUSY``) unread: a hub knows its callbacks, and
  deliveries it held open at once were each read (up to --max-body-bytes), whatever their number.
"""

from __future__ import annotations

import dataclasses
import hmac
import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from linkcast.core.errors import LinkcastError, Unavailable
from linkcast.core.feeds import FEED_GONE, FeedRecord, PolledEntry
from linkcast.core.links import LinkLimits
from linkcast.core.websub import (
    MODE_SUBSCRIBE,
    MODE_UNSUBSCRIBE,
    PUSH_OFF,
    PUSH_SUBSCRIBED,
    PUSH_UNSUBSCRIBING,
    Subscription,
    same_topic,
)
from linkcast.extraction import ExtractionPool
from linkcast.feeds.reading import Answer, read_off_loop
from linkcast.feeds.schedule import Bounds
from linkcast.feeds.websub.lifecycle import denied, verified
from linkcast.feeds.websub.signature import signature_valid
from linkcast.memory_budget import MemoryBudget, Share
from linkcast.metrics import Metrics
from linkcast.settings import Settings
from linkcast.store.base import Store

log = logging.getLogger(__name__)

MAX_CHALLENGE_BYTES = 1024
# Rounds of compare-and-swap before a change gives way to the ones racing it (counters are best effort past it).
SWAP_ROUNDS = 5


@dataclass(frozen=True, slots=True)
class Reply:
    """A success's status and body (the challenge, as the hub sent it), or an error's status, code and message."""

    status: int
    text: str = ""
    code: str | None = None
    body: bytes = b""


NOT_FOUND = Reply(404, "no pending request of this subscription has this mode and topic", "not_pending")
GONE = Reply(410, "no subscription has this callback (any more)", "unknown_callback")
RECEIVED = Reply(202)
UNSIGNED = Reply(403, "this subscription was made with a secret: its deliveries must carry X-Hub-Signature", "unsigned")
OVER_BUDGET = Reply(429, "this feed took as many pushed entries as it may for now: deliver later", "too_many")
BUSY = Reply(503, "this server is reading as many large deliveries as its memory allows: deliver again later", "busy")


class Callbacks:
    def __init__(self, settings: Settings, store: Store, extraction: ExtractionPool, metrics: Metrics) -> None:
        self.settings = settings
        self.store = store
        self.extraction = extraction
        self.metrics = metrics
        self.bounds = Bounds(settings.feed_min_interval, settings.feed_max_interval, settings.feed_default_interval)
        self.limits = LinkLimits(settings.max_links, settings.max_result_bytes)
        self.memory = MemoryBudget(settings.websub_memory_bytes)

    def memory_for(self, announced: int | None) -> Share | None:
        """The share of ``--websub-memory-bytes`` a delivery holds while its body is read and parsed: the size it
        announces (``Content-Length``; ``--max-body-bytes``, the most it may send, if none), and nothing for one no
        larger than an API body; None if the budget has not that much free (the answer is ``BUSY``, body unread)."""
        most = self.settings.max_body_bytes
        size = most if announced is None else min(most, announced)
        share = self.memory.try_take(0 if size <= self.settings.max_request_bytes else size)
        if share is None:
            self.metrics.websub_deliveries.labels("busy").inc()
        return share

    async def verify(self, feed_id: str, token: str, query: Mapping[str, str], challenge: bytes | None) -> Reply:
        """The answer to a verification: ``query``, its parameters; ``challenge``, the bytes of ``hub.challenge`` as
        the hub sent them (percent-decoded, whether or not they are UTF-8), echoed as they are (WebSub 5.3.1)."""
        mode, topic = query.get("hub.mode"), query.get("hub.topic")
        challenge = challenge or b""
        for _ in range(SWAP_ROUNDS):
            sub = await self._subscription(feed_id, token)
            if sub is None or topic is None or not same_topic(topic, sub.topic):
                return NOT_FOUND
            now = time.time()
            after: Subscription | None
            if mode == "denied":
                after = denied(sub, query.get("hub.reason", "")[:200] or None, now, self.bounds)
                challenge = b""
            elif mode in (MODE_SUBSCRIBE, MODE_UNSUBSCRIBE) and (sub.pending == mode or _held(sub, mode)):
                if not challenge or len(challenge) > MAX_CHALLENGE_BYTES:
                    return NOT_FOUND
                lease = _lease(query.get("hub.lease_seconds"), self.settings.websub_lease)
                after = verified(sub, lease, now, self.bounds) if mode == MODE_SUBSCRIBE else None
            else:
                return NOT_FOUND
            if await self.store.swap_subscription(feed_id, sub.version, after):
                log.info("the hub of feed %s: %s verified", feed_id, mode)
                if mode == "denied" and sub.active(now):
                    # Its hub pushes no more, and its polls were put off to --feed-max-interval while it did.
                    await self.store.poll_feed_by(feed_id, now)
                return Reply(200, body=challenge)
        return Reply(503, "the subscription is changing: verify again", "busy")

    async def deliver(
        self, feed_id: str, token: str, signature: str | None, body: bytes, content_type: str | None,
        link_headers: Sequence[str],
    ) -> Reply:  # fmt: skip
        # Asked again, now that the body is read: the subscription may have ended, or the budget been spent, since.
        refused, live = await self._arrival(feed_id, token, signature)
        if live is None or not signature:  # refused (``live`` is None then)
            return refused or GONE
        sub, record = live
        if not signature_valid(signature, sub.secret, body):
            return await self._dropped(sub, "bad_signature")
        watch = record.watch
        try:
            answer = Answer(body, sub.content_url or sub.topic, content_type, link_headers)
            limits, max_entries = self.limits, self.settings.max_entries_per_poll
            reading = await read_off_loop(self.extraction, watch, answer, limits, max_entries, for_request=True)
        except Unavailable as busy:  # not the delivery's fault: the hub delivers it again later
            return Reply(503, busy.message, busy.code)
        except LinkcastError as error:
            log.info("a delivery for feed %s could not be read (%s): %s", feed_id, error.code, error.message)
            return await self._dropped(sub, "unreadable")
        if not _of_its_topic(reading.topic, sub, record):
            log.info("a delivery for feed %s names another topic: %s", feed_id, (reading.topic or "")[:500])
            return await self._dropped(sub, "another_topic")
        taken = await self._take_from_budget(sub, reading.entries, len(body))
        if isinstance(taken, Reply):
            return taken
        # Of the feed read above: one removed and added again under its id while this was read takes nothing of it.
        await self.store.record_pushed_entries(feed_id, taken, record.created_at)
        self.metrics.websub_deliveries.labels("accepted").inc()
        return RECEIVED

    async def _take_from_budget(
        self, sub: Subscription, entries: list[PolledEntry], size: int
    ) -> list[PolledEntry] | Reply:
        """The entries this delivery of ``size`` bytes may bring (the first, as many as the budget has left: the
        rest, the oldest in a feed's usual order, wait for a poll), spent from the budget (``_cost``) in the same
        swap that reads it; or the answer that refuses the delivery. Read before the body was parsed and spent once
        its entries were kept, the budget was all there for each of the deliveries that arrived together, and each
        took all of it."""
        for _ in range(SWAP_ROUNDS):
            now = time.time()
            current = await self.store.get_subscription(sub.feed_id)
            if current is None or current.callback != sub.callback or current.state == PUSH_UNSUBSCRIBING:
                return GONE
            left = self._budget_left(current, now)
            if left <= 0:
                await self._dropped(current, "over_budget")
                return OVER_BUDGET
            taken = entries[:left]
            if await self.store.swap_subscription(
                sub.feed_id, current.version, self._took(current, self._cost(len(taken), size), now)
            ):
                return taken
        return Reply(503, "the subscription is changing: deliver again", "busy")

    def _cost(self, entries: int, size: int) -> int:
        """What a delivery spends of the budget: a unit per entry it brings, one at least, and one per
        ``--max-body-bytes`` / ``--max-entries-per-poll`` bytes of its body. A poll reads one body a window; counted
        by its entries alone, a hub could have a body of 10 MB read (in a child, for up to --parse-timeout) as many
        times a window as a poll may bring entries."""
        per_unit = max(1, self.settings.max_body_bytes // max(1, self.settings.max_entries_per_poll))
        return max(1, entries, -(-size // per_unit))

    def _budget_left(self, sub: Subscription, now: float) -> int:
        """Entries this feed may still take from deliveries in the current window. A hub is chosen by whoever
        publishes the feed and may push as often as it likes; each new entry is an event and, with ``follow``, a
        fetch. So pushes get what polls could bring at most: ``--max-entries-per-poll`` every
        ``--feed-min-interval`` (a delivery counts for one at least, so empty ones are bounded too, and for its
        bytes: ``_cost``)."""
        if sub.window_start is None or now - sub.window_start >= self.settings.feed_min_interval:
            return self.settings.max_entries_per_poll
        return self.settings.max_entries_per_poll - sub.window_entries

    def _took(self, sub: Subscription, entries: int, now: float) -> Subscription:
        if sub.window_start is None or now - sub.window_start >= self.settings.feed_min_interval:
            sub = dataclasses.replace(sub, window_start=now, window_entries=0)
        return dataclasses.replace(
            sub, pushes=sub.pushes + 1, last_push_at=now, window_entries=sub.window_entries + entries
        )

    async def admits(self, feed_id: str, token: str, signature: str | None) -> Reply | None:
        """None if a delivery to this callback is to be read; else the answer to give before reading any of it
        (anyone may POST to a callback URL, and a delivery may be ``--max-body-bytes``; a hub that pushes without
        end sent 10 MB after 10 MB, each read whole before the 429 that dropped it)."""
        refused, _live = await self._arrival(feed_id, token, signature)
        return refused

    async def _arrival(
        self, feed_id: str, token: str, signature: str | None
    ) -> tuple[Reply | None, tuple[Subscription, FeedRecord] | None]:
        """The answer that refuses a delivery before its signature is hashed or its body read (410 no subscription,
        403 unsigned, 429 past the budget), or None and the subscription and feed it is for."""
        live = await self._live(feed_id, token)
        if live is None:
            self.metrics.websub_deliveries.labels("unknown_callback").inc()
            return GONE, None
        sub, _record = live
        if not signature:
            await self._dropped(sub, "unsigned")
            return UNSIGNED, None
        if self._budget_left(sub, time.time()) <= 0:
            await self._dropped(sub, "over_budget")
            return OVER_BUDGET, None
        return None, live

    async def too_large(self, feed_id: str, token: str) -> None:
        """Count a delivery refused for its size (the web layer refuses it before it is read)."""
        sub = await self._subscription(feed_id, token)
        if sub is not None:
            await self._dropped(sub, "too_large")

    async def _dropped(self, sub: Subscription, outcome: str) -> Reply:
        self.metrics.websub_deliveries.labels(outcome).inc()
        log.info("dropped a delivery for feed %s: %s", sub.feed_id, outcome.replace("_", " "))
        await self._count(sub.feed_id, lambda s: dataclasses.replace(s, dropped=s.dropped + 1))
        return RECEIVED

    async def _live(self, feed_id: str, token: str) -> tuple[Subscription, FeedRecord] | None:
        """The subscription whose callback this is, and its feed, if the hub may still deliver to it (not once the
        feed is removed or gone, 410)."""
        sub = await self._subscription(feed_id, token)
        record = await self.store.get_feed(feed_id) if sub is not None else None
        if sub is None or record is None or record.state == FEED_GONE or sub.state == PUSH_UNSUBSCRIBING:
            return None
        return sub, record

    async def _subscription(self, feed_id: str, token: str) -> Subscription | None:
        """The feed's subscription if ``token`` is its callback's (compared in constant time)."""
        sub = await self.store.get_subscription(feed_id)
        if sub is None or sub.state == PUSH_OFF or not hmac.compare_digest(sub.callback.encode(), token.encode()):
            return None
        return sub

    async def _count(self, feed_id: str, change: Callable[[Subscription], Subscription]) -> None:
        for _ in range(SWAP_ROUNDS):
            sub = await self.store.get_subscription(feed_id)
            if sub is None or await self.store.swap_subscription(feed_id, sub.version, change(sub)):
                return


def _of_its_topic(topic: str | None, sub: Subscription, record: FeedRecord) -> bool:
    """Whether a delivery is of the subscription's topic by the URL it calls its own: the Link header's rel=self,
    which the hub MUST send with the topic it updates (WebSub 7), else the document's self link (the order discovery
    takes them in, WebSub 4: a document may name another self where the header wins, websub.rocks 104). The callback
    identifies the subscription and the signature only proves that its hub sent the body: a hub (chosen by whoever
    publishes the feed) could otherwise make another feed's content this feed's entries. A delivery that names no
    URL of its own is the callback's; the feed's own URL counts as its topic too (where it is polled)."""
    return topic is None or same_topic(topic, sub.topic) or same_topic(topic, record.url)


def _held(sub: Subscription, mode: str) -> bool:
    """Whether a verification of ``mode`` with nothing pending is of the subscription as it stands, which linkcast
    still wants: a hub's reconfirmation (WebSub 5: "the hub periodically reconfirms the subscription is still
    active"), or a hub asking again because the answer to its verification was lost. Refused (404, "the subscriber
    does not agree"), the hub would end a subscription linkcast counts on for the rest of its lease, polling the feed
    at --feed-max-interval for pushes that never come."""
    return mode == MODE_SUBSCRIBE and sub.pending is None and sub.state == PUSH_SUBSCRIBED


def _lease(value: str | None, asked: int) -> int:
    """The lease the hub granted (``hub.lease_seconds``); what was asked if it said none that reads as a number.
    ASCII digits only: ``str.isdigit`` also holds for other scripts' digits and for ``²``, which ``int`` refuses."""
    value = (value or "").strip()
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 12 else asked
