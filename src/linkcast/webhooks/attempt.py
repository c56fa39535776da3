"""One delivery attempt: the signed POST, and what its answer means for the delivery and for its endpoint.

Only a 2xx within ``--webhook-timeout`` counts. ``410 Gone`` disables the endpoint at once (its owner said it is
gone). Anything else (another status, a redirect, which is never followed, a timeout, a refused or blocked address)
fails the attempt: the delivery waits for its next try, until the endpoint has failed for the whole
``--webhook-retry-hours``, when the delivery fails and the endpoint is disabled, saying why. The next try waits at
least as long as the answer's ``Retry-After`` asks (a 429 or 503 says when to come back; Standard Webhooks: "should
be taken into consideration when scheduling the next attempt"), up to the longest wait between two attempts.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

from linkcast.core.errors import LinkcastError
from linkcast.core.webhooks import (
    DELIVERY_DELIVERED,
    DELIVERY_FAILED,
    ENDPOINT_DISABLED,
    Delivery,
    Endpoint,
    message_id,
)
from linkcast.fetch import Fetcher
from linkcast.fetch.retry import parse_retry_after
from linkcast.settings import Settings
from linkcast.webhooks.backoff import MAX_WAIT_SECONDS, retry_delay
from linkcast.webhooks.signing import signed_headers

# Bytes of an endpoint's answer read at most (its body is only shown in the delivery's last error).
MAX_ANSWER_BYTES = 4096
ANSWER_SHOWN_CHARS = 256


@dataclass(frozen=True, slots=True)
class Answer:
    """What an attempt got: a status (and the start of the body), or the error that kept it from any answer."""

    status: int | None = None
    body: str = ""
    error: LinkcastError | None = None
    retry_after: float | None = None  # seconds the answer's Retry-After asked for

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    def describe(self) -> dict[str, Any]:
        if self.error is not None:
            return self.error.to_dict()
        message = f"the endpoint answered {self.status}"
        if self.status is not None and 300 <= self.status < 400:
            message += " (redirects are not followed: give the URL it leads to)"
        return {"code": "http_status", "message": message, "status": self.status, "body": self.body}


async def send(fetcher: Fetcher, settings: Settings, endpoint: Endpoint, delivery: Delivery) -> Answer:
    """One attempt, signed as it is sent (after any wait for its host's turn): ``webhook-timestamp`` is its own."""
    body = delivery.payload.encode()

    def sign() -> dict[str, str]:
        now = time.time()
        msg_id = message_id(endpoint.endpoint_id, delivery.event_id)
        return signed_headers(msg_id, int(now), body, endpoint.signing_secrets(now))

    try:
        resource = await fetcher.post(
            endpoint.url, body, sign, max_bytes=MAX_ANSWER_BYTES, timeout=settings.webhook_timeout
        )
    except LinkcastError as error:
        return Answer(error=error)
    shown = resource.body[:ANSWER_SHOWN_CHARS].decode("utf-8", "replace")
    return Answer(resource.status_code, shown, retry_after=parse_retry_after(resource.headers.get("Retry-After")))


@dataclass(frozen=True, slots=True)
class Outcome:
    delivery: Delivery
    disable: str | None = None  # why the endpoint is disabled now (None: it is not)


def judge(delivery: Delivery, answer: Answer, failing_since: float | None, settings: Settings, now: float) -> Outcome:
    """The delivery after ``answer``, and whether its endpoint is disabled by it."""
    tried = dataclasses.replace(
        delivery, attempts=delivery.attempts + 1, last_try_at=now, last_status=answer.status,
        last_error=None if answer.ok else answer.describe(),
    )  # fmt: skip
    if answer.ok:
        return Outcome(dataclasses.replace(tried, state=DELIVERY_DELIVERED, delivered_at=now))
    if answer.status == 410:
        return Outcome(dataclasses.replace(tried, state=DELIVERY_FAILED), "the endpoint answered 410 Gone")
    window = settings.webhook_retry_hours * 3600.0
    if now - (failing_since if failing_since is not None else now) >= window:
        reason = f"every attempt failed for {settings.webhook_retry_hours:g} h"
        return Outcome(dataclasses.replace(tried, state=DELIVERY_FAILED), reason)
    wait = retry_delay(tried.attempts, settings.webhook_retry_base)
    if answer.retry_after is not None:
        wait = max(wait, min(answer.retry_after, MAX_WAIT_SECONDS))
    next_try = now + wait
    return Outcome(dataclasses.replace(tried, next_try=next_try))


def endpoint_after(endpoint: Endpoint, outcome: Outcome, answer: Answer, now: float) -> Endpoint:
    """The endpoint's health once a failed attempt is recorded."""
    changed = dataclasses.replace(
        endpoint, last_failure_at=now, last_error=outcome.delivery.last_error,
        failing_since=endpoint.failing_since if endpoint.failing_since is not None else now,
    )  # fmt: skip
    if outcome.delivery.state == DELIVERY_FAILED:
        changed.failed += 1
    if outcome.disable is not None:
        changed.state, changed.reason = ENDPOINT_DISABLED, outcome.disable
    return changed
