"""When to poll a feed next: what the server and the feed say, within the operator's bounds, never in step.

- The interval a feed asks for, first found of: ``Cache-Control: max-age`` (``no-cache``/``no-store`` say nothing of
  how often the feed changes), ``Expires`` (against the answer's ``Date``), the feed's RSS ``<ttl>``, its
  ``sy:updatePeriod``/``sy:updateFrequency``; else the default. Clamped to [``--feed-min-interval``,
  ``--feed-max-interval``].
- Jitter: the interval times a random factor in [0.9, 1.1], clamped again, so that thousands of feeds added at once do
  not come due at once.
- 429 and 503: not before ``Retry-After`` (seconds or an HTTP date), and not before the minimum interval; at most the
  maximum. Other failures: the interval doubled per failure in a row, up to the maximum; the next success resets it.
"""

from __future__ import annotations

import email.utils
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass

from linkcast.fetch.retry import parse_retry_after

_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d{1,10})\"?\s*(?:,|$)", re.IGNORECASE)
_NO_INTERVAL = re.compile(r"(?:^|,)\s*(?:no-cache|no-store)\s*(?:,|$)", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class Bounds:
    minimum: float
    maximum: float
    default: float

    def clamp(self, seconds: float) -> float:
        return min(self.maximum, max(self.minimum, seconds))


def asked_interval(headers: Mapping[str, str], feed_ttl: float | None, now: float) -> float | None:
    """The interval the answer's headers or the feed itself ask for, in seconds; None if neither says."""
    cache_control = headers.get("Cache-Control", "")
    if not _NO_INTERVAL.search(cache_control):
        found = _MAX_AGE.search(cache_control)
        if found:
            return float(found.group(1))
        expires = _date(headers.get("Expires"))
        if expires is not None:
            served_at = _date(headers.get("Date")) or now
            return max(0.0, expires - served_at)
    return feed_ttl


def next_interval(bounds: Bounds, asked: float | None, rng: random.Random | None = None) -> float:
    """The interval to the next poll after a success, jittered."""
    base = bounds.clamp(asked if asked is not None else bounds.default)
    return bounds.clamp(base * (rng or random).uniform(0.9, 1.1))


def retry_interval(bounds: Bounds, retry_after: str | None, now: float, failures: int, base: float) -> float:
    """The interval to the next poll after a failure: ``Retry-After`` if the server gave one, else a back-off."""
    waited = parse_retry_after(retry_after, now)
    if waited is not None:
        return bounds.clamp(waited)
    return backoff(bounds, failures, base)


def backoff(bounds: Bounds, failures: int, base: float) -> float:
    """``base`` doubled for each failure in a row (``failures`` >= 1), within the bounds."""
    return bounds.clamp(bounds.clamp(base) * 2 ** min(max(0, failures - 1), 32))


def _date(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return email.utils.parsedate_to_datetime(value).timestamp()
    except (TypeError, ValueError, OverflowError):
        return None
