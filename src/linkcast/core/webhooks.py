"""Webhook endpoints and their deliveries as the store keeps them (pure: no I/O).

An endpoint is a URL to POST events to, which events, optionally only those of some requests, and its secret. Its
outbox is fed by a cursor over the event log (``cursor``: the last event id read into it), so every endpoint gets its
events in event-id order, and a restart resumes where the cursor stands. Each matching event becomes one ``Delivery``
(keyed by the endpoint and the event id), pending until the endpoint answers 2xx or the retry window ends.

Every change of an endpoint's record is a compare-and-swap on ``version`` (``Store.save_webhook``): the API (a PUT,
a secret rotation) and the endpoint's job (its health after each attempt) may change it at once. The cursor and the
outbox are kept beside the record, out of the version's reach, and only the endpoint's one job moves them.
"""

from __future__ import annotations

import base64
import re
import secrets
from dataclasses import asdict, dataclass, field, replace
from typing import Any

import orjson

from linkcast.core.crawls import CRAWL_ACCEPTED, CRAWL_DONE_EVENT, CRAWL_PROGRESS, PAGE, SKIPPED
from linkcast.core.events import ACCEPTED, ERROR, RESULT, STARTED, Event
from linkcast.core.feeds import (
    FEED_ACCEPTED,
    FEED_ENTRY,
    FEED_ERROR_EVENT,
    FEED_GONE_EVENT,
    FEED_MOVED,
    FEED_REMOVED,
)

# Where an endpoint stands.
ENDPOINT_ACTIVE = "active"
ENDPOINT_DISABLED = "disabled"  # by a 410 Gone, or by failing for the whole retry window; a PUT or a retry re-enables

# Where a delivery stands.
DELIVERY_PENDING = "pending"
DELIVERY_DELIVERED = "delivered"
DELIVERY_FAILED = "failed"

# The event types an endpoint may ask for (clients of the stream see these too).
EVENT_TYPES = frozenset(
    {
        ACCEPTED, STARTED, RESULT, ERROR,
        PAGE, SKIPPED, CRAWL_ACCEPTED, CRAWL_PROGRESS, CRAWL_DONE_EVENT,
        FEED_ACCEPTED, FEED_ENTRY, FEED_MOVED, FEED_GONE_EVENT, FEED_ERROR_EVENT, FEED_REMOVED,
    }
)  # fmt: skip
# A gap: events pruned (retention) before the endpoint's cursor read them. Recorded as a failed delivery.
GAP = "webhook.gap"

# What a subscription made with a request asks for when it names no events: that request's outcome.
DEFAULT_EVENTS = {
    "urls": (RESULT, ERROR),
    "crawls": (PAGE, CRAWL_DONE_EVENT),
    "feeds": (FEED_ENTRY,),
    "webhooks": (RESULT, ERROR, PAGE, CRAWL_DONE_EVENT, FEED_ENTRY),
}
# A subscription made with a request is the endpoint ``<scope>~<request id>``; ids of endpoints made with
# PUT /webhooks/<id> may not take that form.
SCOPED_SCOPES = ("urls", "crawls", "feeds")
SCOPED_ID = re.compile(rf"({'|'.join(SCOPED_SCOPES)})~.*")
ENDPOINT_ID_PATTERN = re.compile(r"[A-Za-z0-9._~-]{1,140}")
MAX_REQUEST_IDS = 1000
SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
# A rotated-out secret still signs (beside the new one) this long, so that receivers can switch without a gap.
ROTATION_GRACE_SECONDS = 24 * 3600.0
# Rotated-out secrets that sign at once, at most (each is one signature more in every delivery's header): past it,
# the oldest stops before its grace ends.
MAX_ROTATED_OUT = 4
# Deliveries kept per endpoint once they have ended (delivered or failed), newest first; older ones are dropped.
KEEP_ENDED_DELIVERIES = 1000


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and the base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def scoped_endpoint_id(scope: str, request_id: str) -> str:
    return f"{scope}~{request_id}"


def message_id(endpoint_id: str, event_id: int) -> str:
    """The ``webhook-id`` of a delivery: the same on every attempt (receivers deduplicate on it). What is signed is
    ``id.timestamp.body``, so the id may hold no full stop (Standard Webhooks, "Signature scheme"): one in the
    endpoint's id is written ``%2E`` (``%`` is no character of an id, so no two endpoints' ids meet)."""
    return f"msg_{endpoint_id.replace('.', '%2E')}_{event_id}"


@dataclass
class Endpoint:
    endpoint_id: str
    url: str
    events: list[str]
    secret: str
    request_ids: list[str] | None = None  # None: every request's events
    created_at: float = 0.0
    state: str = ENDPOINT_ACTIVE
    reason: str | None = None  # why it is disabled
    previous_secret: str | None = None  # still signs until previous_until (a rotation's grace)
    previous_until: float | None = None
    # Secrets rotated out before previous_secret whose grace has not ended, oldest first, each with its end.
    earlier_secrets: list[tuple[str, float]] = field(default_factory=list)
    failing_since: float | None = None  # the first failed attempt since the last success
    delivered: int = 0
    failed: int = 0
    last_success_at: float | None = None
    last_failure_at: float | None = None
    last_error: dict[str, Any] | None = None
    version: int = 0  # set by the store: 0 is "not stored"
    cursor: int = field(default=0, compare=False)  # set by the store: the last event id read into the outbox

    def to_json(self) -> bytes:
        fields = asdict(self)
        del fields["version"], fields["cursor"]
        return orjson.dumps(fields)

    @classmethod
    def from_json(cls, data: bytes | str, version: int, cursor: int) -> Endpoint:
        fields: dict[str, Any] = orjson.loads(data)
        fields["earlier_secrets"] = [(secret, until) for secret, until in fields.get("earlier_secrets", [])]
        return cls(**fields, version=version, cursor=cursor)

    def wants(self, event: Event) -> bool:
        """Whether ``event`` is one this endpoint asked for."""
        wanted_request = self.request_ids is None or event.request_id in self.request_ids
        return wanted_request and event.type in self.events

    def signing_secrets(self, now: float) -> list[str]:
        """The secrets a delivery is signed with now: the current one, and those rotated out during their grace."""
        return [self.secret, *(secret for secret, _until in reversed(self.rotated_out(now)))]

    def rotated_out(self, now: float) -> list[tuple[str, float]]:
        """The rotated-out secrets still in their grace, oldest first, each with its end."""
        kept = [*self.earlier_secrets]
        if self.previous_secret and self.previous_until is not None:
            kept.append((self.previous_secret, self.previous_until))
        return [(secret, until) for secret, until in kept if until > now]

    def rotated(self, secret: str, now: float) -> Endpoint:
        """This endpoint with ``secret`` in place of its own, which signs beside it for ``ROTATION_GRACE_SECONDS``, as
        those rotated out before it go on signing until their own grace ends (``MAX_ROTATED_OUT`` at most)."""
        earlier = self.rotated_out(now)[-(MAX_ROTATED_OUT - 1) :] if MAX_ROTATED_OUT > 1 else []
        return replace(self, secret=secret, previous_secret=self.secret,
                       previous_until=now + ROTATION_GRACE_SECONDS, earlier_secrets=earlier)  # fmt: skip

    def public(self) -> dict[str, Any]:
        """What the API shows: never a secret."""
        return {
            "id": self.endpoint_id,
            "url": self.url,
            "events": self.events,
            "request_ids": self.request_ids,
            "state": self.state,
            "reason": self.reason,
            "created_at": self.created_at,
            "failing_since": self.failing_since,
            "delivered": self.delivered,
            "failed": self.failed,
            "last_success_at": self.last_success_at,
            "last_failure_at": self.last_failure_at,
            "last_error": self.last_error,
            "secret_rotated_until": self.previous_until,
            "cursor": self.cursor,
        }


@dataclass
class Delivery:
    endpoint_id: str
    event_id: int
    event_type: str
    payload: str  # the event's JSON exactly as the stream sends it
    state: str = DELIVERY_PENDING
    created_at: float = 0.0
    attempts: int = 0
    next_try: float = 0.0
    last_try_at: float | None = None
    last_status: int | None = None
    last_error: dict[str, Any] | None = None
    delivered_at: float | None = None

    def to_json(self) -> bytes:
        return orjson.dumps(asdict(self))

    @classmethod
    def from_json(cls, data: bytes | str) -> Delivery:
        return cls(**orjson.loads(data))

    @classmethod
    def of_event(cls, endpoint_id: str, event: Event, now: float) -> Delivery:
        return cls(endpoint_id, event.id, event.type, event.json, created_at=now, next_try=now)

    @property
    def ended(self) -> bool:
        return self.state != DELIVERY_PENDING

    @property
    def ended_at(self) -> float:
        """When an ended delivery ended (delivered, its last attempt, or recorded: a gap): its age for ``prune``."""
        return self.delivered_at or self.last_try_at or self.created_at

    def public(self) -> dict[str, Any]:
        """What the API shows: the delivery's progress, not its payload (the event is in the log, or in the stream)."""
        answer = asdict(self)
        del answer["payload"], answer["endpoint_id"]
        answer["id"] = str(self.event_id)
        answer["webhook_id"] = message_id(self.endpoint_id, self.event_id)
        if self.state != DELIVERY_PENDING:
            answer["next_try"] = None
        return answer


def gap_delivery(endpoint_id: str, first_missing: int, last_missing: int, now: float) -> Delivery:
    """The record of events pruned before the endpoint read them: a failed delivery under the last missing id."""
    message = (
        f"events {first_missing} to {last_missing} were pruned (retention) before this endpoint read them: "
        "those it asked for were never delivered"
    )
    payload = orjson.dumps({"type": GAP, "first_missing": first_missing, "last_missing": last_missing}).decode()
    return Delivery(
        endpoint_id, last_missing, GAP, payload, state=DELIVERY_FAILED, created_at=now,
        last_error={"code": "events_pruned", "message": message},
    )  # fmt: skip
