"""A subscription's life as pure decisions: a new one, what its job does next, and each change the hub's answers
make. Times are the caller's ``now``; nothing here touches the network or the store.

- A new subscription gets a callback token of its own and a secret of 32 random bytes, and is due at once.
- Asked (the hub answered 2xx), it waits ``--websub-verify-timeout`` for the hub's verification; then it failed.
- Verified, it is renewed once 80% of its lease has passed (never sooner than ``--feed-min-interval`` after the
  verification, so that a hub granting one-second leases cannot make linkcast ask again and again).
- Failed (the hub refused, could not be reached, never verified) or expired, it is asked for again after a back-off
  from ``--feed-min-interval`` doubling up to ``--feed-max-interval``; denied, after ``--feed-max-interval``. Failed
  or denied, it is asked of the next hub the feed names, if it names several (``next_hub``).
"""

from __future__ import annotations

import dataclasses
import secrets
from enum import Enum

from linkcast.core.websub import (
    MODE_SUBSCRIBE,
    MODE_UNSUBSCRIBE,
    PUSH_DENIED,
    PUSH_FAILED,
    PUSH_OFF,
    PUSH_REQUESTED,
    PUSH_SUBSCRIBED,
    PUSH_UNSUBSCRIBING,
    Subscription,
)
from linkcast.feeds.schedule import Bounds, backoff

RENEW_FRACTION = 0.8
MAX_LEASE_SECONDS = 10 * 365 * 86400
MAX_REASON_CHARS = 300


class Step(Enum):
    """What a subscription's job does when it runs."""

    ASK = "ask"  # send the pending request to the hub
    GIVE_UP = "give_up"  # the hub never verified: failed (or, unsubscribing, forgotten)
    RENEW = "renew"  # the lease is nearly over (or failed, denied, expired): ask for it again
    UNSUBSCRIBE = "unsubscribe"  # its feed is gone: ask the hub to stop
    FORGET = "forget"  # nothing left to ask of the hub: the subscription goes
    WAIT = "wait"  # not yet: its job runs again at due_at


def new_subscription(feed_id: str, hub: str, topic: str, now: float) -> Subscription:
    return Subscription(
        feed_id, hub, topic, callback=secrets.token_urlsafe(24), secret=secrets.token_hex(32),
        state=PUSH_REQUESTED, pending=MODE_SUBSCRIBE, due_at=now,
    )  # fmt: skip


def switched_off(feed_id: str, hub: str, topic: str) -> Subscription:
    """The hub a feed names, recorded without subscribing (no ``--public-url``)."""
    reason = "--public-url is not set, so no hub can reach this server: the feed is polled"
    return Subscription(feed_id, hub, topic, callback="", secret="", state=PUSH_OFF, reason=reason)


def next_step(sub: Subscription, feed_exists: bool, now: float, verify_timeout: float) -> Step:
    if sub.state == PUSH_OFF:
        return Step.FORGET if not feed_exists else Step.WAIT
    if sub.pending == MODE_UNSUBSCRIBE:
        if sub.asked_at is None:
            return Step.ASK
        return Step.GIVE_UP if now >= sub.asked_at + verify_timeout else Step.WAIT
    if not feed_exists:
        return Step.UNSUBSCRIBE if sub.state == PUSH_SUBSCRIBED or sub.pending else Step.FORGET
    if sub.pending == MODE_SUBSCRIBE:
        if sub.asked_at is None:
            return Step.ASK
        return Step.GIVE_UP if now >= sub.asked_at + verify_timeout else Step.WAIT
    if sub.due_at is not None and now >= sub.due_at:
        return Step.RENEW
    return Step.WAIT


def next_hub(sub: Subscription) -> str | None:
    """The hub to ask once ``sub``'s own has failed or denied it: the next the feed names (WebSub 4: a publisher names
    several so that one failing is not the end of its pushes), or None if it names no other."""
    if sub.state not in (PUSH_FAILED, PUSH_DENIED) or sub.hub not in sub.hubs or len(sub.hubs) < 2:
        return None
    return sub.hubs[(sub.hubs.index(sub.hub) + 1) % len(sub.hubs)]


def moved_to(sub: Subscription, hub: str, now: float) -> Subscription:
    """A new subscription to ``hub`` in place of ``sub`` (a callback and secret of its own: whatever the old hub still
    sends is answered 410), keeping its count of failures, so that a feed whose hubs all fail backs off as one
    whose single hub does."""
    fresh = new_subscription(sub.feed_id, hub, sub.topic, now)
    return dataclasses.replace(fresh, failures=sub.failures, content_url=sub.content_url, hubs=sub.hubs)


def asking(sub: Subscription, mode: str, now: float) -> Subscription:
    """The subscription with ``mode`` pending and not yet sent; its job is due now."""
    state = PUSH_UNSUBSCRIBING if mode == MODE_UNSUBSCRIBE else sub.state
    return dataclasses.replace(sub, state=state, pending=mode, asked_at=None, due_at=now)


def asked(sub: Subscription, now: float, verify_timeout: float) -> Subscription:
    """The hub accepted the request: its verification is awaited until the timeout."""
    return dataclasses.replace(sub, asked_at=now, due_at=now + verify_timeout)


def verified(sub: Subscription, lease_seconds: int, now: float, bounds: Bounds) -> Subscription:
    lease = min(max(1, lease_seconds), MAX_LEASE_SECONDS)
    renew_at = now + max(lease * RENEW_FRACTION, bounds.minimum)
    return dataclasses.replace(
        sub, state=PUSH_SUBSCRIBED, pending=None, asked_at=None, lease_seconds=lease, expires_at=now + lease,
        verified_at=now, failures=0, reason=None, due_at=renew_at,
    )  # fmt: skip


def failed(sub: Subscription, reason: str, now: float, bounds: Bounds) -> Subscription:
    failures = sub.failures + 1
    state = PUSH_SUBSCRIBED if sub.active(now) else PUSH_FAILED  # a lease still running keeps its pushes coming
    return dataclasses.replace(
        sub, state=state, pending=None, asked_at=None, failures=failures, reason=reason[:MAX_REASON_CHARS],
        due_at=now + backoff(bounds, failures, bounds.minimum),
    )  # fmt: skip


def denied(sub: Subscription, reason: str | None, now: float, bounds: Bounds) -> Subscription:
    said = f"the hub denied the subscription: {reason}" if reason else "the hub denied the subscription"
    return dataclasses.replace(
        sub, state=PUSH_DENIED, pending=None, asked_at=None, expires_at=None, reason=said[:MAX_REASON_CHARS],
        due_at=now + bounds.maximum,
    )  # fmt: skip
