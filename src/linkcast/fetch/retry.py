"""Which failures are worth another try, and how long to wait before it: exponential back-off with full jitter.

Only transient failures are retried: connection failures, 429 and 503 (retried after their ``Retry-After``, and not at
all when it asks for longer than the longest wait).
Any other 4xx or 5xx, a timeout, a refusal by the policy or a page too large would fail the same way again.
"""

from __future__ import annotations

import email.utils
import random
import time
from dataclasses import dataclass
from datetime import UTC

from linkcast.core.errors import FetchError

# First back-off ceiling; each retry doubles it (full jitter: the wait is uniform in [0, ceiling]).
BACKOFF_BASE_SECONDS = 0.5
# No single wait is longer than this; a Retry-After that asks for longer is not retried at all (asking again sooner
# than the server said is what a 429 is sent to stop). The fetch's total timeout bounds every wait anyway.
MAX_WAIT_SECONDS = 30.0
RETRY_STATUSES = frozenset({429, 503})
# A Retry-After of more digits than are kept: 2^31 s, what RFC 9111 1.2.2 has a cache take for such a delta-seconds.
LONGEST_DELAY = 2.0**31


class TransientFetchError(FetchError):
    """A failure that may not happen again; ``retry_after`` is the server's own wait, if it gave one."""

    def __init__(self, message: str, *, code: str, retry_after: float | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date); None if absent or invalid."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        # delay-seconds is 1*DIGIT, ASCII (RFC 9110 10.2.3): ``str.isdigit`` also holds for "²", which ``float``
        # refuses, and for other scripts' digits. More than 10 digits is past any wait anyone would keep, and still a
        # wait: the longest, as a cache reads a delta-seconds too large to hold (RFC 9111 1.2.2). Taken for junk, it
        # had the server asked again sooner than a short Retry-After would have.
        if not value.isascii():
            return None
        return float(value) if len(value) <= 10 else LONGEST_DELAY
    when = parse_http_date(value)
    return None if when is None else max(0.0, when - (time.time() if now is None else now))


def parse_http_date(value: str | None) -> float | None:
    """The time an HTTP-date names, in seconds since the epoch; None if absent or invalid.

    Any of the three forms RFC 9110 5.6.7 has recipients accept: IMF-fixdate, and the obsolete RFC 850 and asctime
    ones. Every HTTP-date is in UTC, the asctime form too though it names no zone: read as the host's local time, it
    would be hours off wherever that is not UTC.
    """
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
        return (when if when.tzinfo is not None else when.replace(tzinfo=UTC)).timestamp()
    except (TypeError, ValueError, OverflowError):
        return None


@dataclass(frozen=True)
class Backoff:
    retries: int
    base: float = BACKOFF_BASE_SECONDS
    cap: float = MAX_WAIT_SECONDS

    def wait(self, attempt: int, error: TransientFetchError, rng: random.Random | None = None) -> float | None:
        """Seconds to wait before retry number ``attempt + 1``, or None when retries are spent."""
        if attempt >= self.retries:
            return None
        if error.retry_after is not None:
            return error.retry_after if error.retry_after <= self.cap else None
        ceiling = min(self.cap, self.base * 2**attempt)
        return (rng or random).uniform(0, ceiling)
