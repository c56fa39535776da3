"""When to poll a feed next: what the server and the feed say, within the operator's bounds, never in step.

- The interval a feed asks for, first found of: ``Cache-Control: max-age`` (``no-cache``/``no-store`` say nothing of
  how often the feed changes; ``s-maxage`` is for shared caches, which linkcast is not), ``Expires`` (against the
  answer's ``Date``; an invalid one is in the past, RFC 9111 5.3), either less the answer's ``Age`` (how long it was
  already cached upstream, RFC 9111 4.2.3), the feed's RSS ``<ttl>``, its ``sy:updatePeriod``/``sy:updateFrequency``;
  else the default. Clamped to [``--feed-min-interval``, ``--feed-max-interval``].
- Jitter: a random interval up to 10% longer than that one, within the bounds, so that thousands of feeds added at
  once do not come due at once. Never shorter: a poll before the answer is stale (max-age=3600, or a site's "at most
  hourly") is one the server asked not to get. At the maximum, where longer is not allowed, up to 10% shorter.
- Failures: the interval doubled per failure in a row, up to the maximum (a 429 counts one more: it already says
  the pace was too fast); the next success resets it. A 429 or 503 waits that long too, or longer if its
  ``Retry-After`` (seconds or an HTTP date) asks so, at most the maximum: that header names the least wait, and a
  short one must not make a poller that was told it asks too often ask sooner.
  Jittered longer as above, but never shorter, even at the maximum (which a Retry-After past it asks for): a host
  that fails its many feeds at once, or sends them all one Retry-After date, would otherwise get them all back in
  the same second.
- Hours and days the feed asks not to be polled in (RSS ``skipHours``, ``skipDays``: ``feeds.skips``): a poll due in
  one moves to the first hour after it that the feed does not skip, at a random moment of its first ``interval``
  seconds (at most the hour: every feed that skips the night would otherwise come due at its end's first second), and
  never past the maximum interval, which the operator's bound keeps before the feed's hint.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping
from dataclasses import dataclass

from linkcast.feeds.skips import first_allowed
from linkcast.fetch.client import header_values
from linkcast.fetch.retry import parse_http_date, parse_retry_after

_MAX_AGE = re.compile(r"(?:^|,)\s*max-age\s*=\s*\"?(\d+)\"?\s*(?:,|$)", re.IGNORECASE)
_AGE = re.compile(r"\s*(\d+)\s*")
_NO_INTERVAL = re.compile(r"(?:^|,)\s*(?:no-cache|no-store)\s*(?:,|$)", re.IGNORECASE)
# Cache-Control read, at most (whole directives): a real one is some tens of characters, and searching the 4 MiB that
# 128 header lines of 32 KiB may hold took 0.1 to 0.26 s of the event loop at every poll.
MAX_CACHE_CONTROL_CHARS = 4096


@dataclass(frozen=True, slots=True)
class Bounds:
    minimum: float
    maximum: float
    default: float

    def clamp(self, seconds: float) -> float:
        return min(self.maximum, max(self.minimum, seconds))


def asked_interval(headers: Mapping[str, str], feed_ttl: float | None, now: float) -> float | None:
    """The interval the answer's headers or the feed itself ask for, in seconds; None if neither says."""
    cache_control = _leading_directives(",".join(header_values(headers, "Cache-Control")))
    if _NO_INTERVAL.search(cache_control):
        return feed_ttl
    found = _MAX_AGE.search(cache_control)
    if found:
        # Digits past any wait are still "fresh for very long" (RFC 9111 1.2.2), not "says nothing": kept as a float.
        return max(0.0, float(found.group(1)) - _age(headers))
    expires_header = headers.get("Expires")
    if expires_header is not None:
        expires = parse_http_date(expires_header)
        if expires is None:  # "0", or any date that does not parse: already stale (RFC 9111 5.3)
            return 0.0
        served_at = parse_http_date(headers.get("Date")) or now
        return max(0.0, expires - served_at - _age(headers))
    return feed_ttl


def next_interval(bounds: Bounds, asked: float | None, rng: random.Random | None = None) -> float:
    """The interval to the next poll after a success, jittered."""
    base = bounds.clamp(asked if asked is not None else bounds.default)
    # The span is clamped, not the draw: a draw clamped to a bound would put every feed whose interval is that bound
    # (all the pushed ones, all that ask for more than the maximum) on the same instant.
    if base < bounds.maximum:
        low, high = base, min(bounds.maximum, base * 1.1)
    else:
        low, high = bounds.clamp(base * 0.9), base
    return (rng or random).uniform(low, high)


def outside_skipped(
    bounds: Bounds, mask: int, now: float, due: float, spread: float, rng: random.Random | None = None
) -> float:
    """``due``, or a moment of the first hour after it that the feed does not skip (``mask``), within ``spread``
    seconds of that hour's start and the maximum interval from ``now``."""
    allowed = first_allowed(due, mask)
    if allowed == due:
        return due
    return min(allowed + (rng or random).uniform(0.0, min(spread, 3599.0)), now + bounds.maximum)


def failure_interval(
    bounds: Bounds,
    retry_after: str | None,
    served_at: float,
    failures: int,
    base: float,
    rng: random.Random | None = None,
) -> float:
    """The interval to the next poll after a failure, jittered. ``retry_after``: the header of a 429 or 503;
    ``served_at``: when the answer was made, by the server's own clock (its ``Date``), against which a Retry-After
    date is read, as an ``Expires`` is: a server whose clock is an hour slow asks for an hour less than it meant."""
    wait = (
        backoff(bounds, failures, base)
        if retry_after is None
        else retry_interval(bounds, retry_after, served_at, failures, base)
    )
    # Up to 10% longer within the maximum, never shorter: at the maximum (a Retry-After past it), exactly that.
    return (rng or random).uniform(wait, max(wait, min(bounds.maximum, wait * 1.1)))


def retry_interval(bounds: Bounds, retry_after: str | None, now: float, failures: int, base: float) -> float:
    """The interval to the next poll after a 429 or 503: the back-off, or ``Retry-After`` if the server asks for longer
    (never sooner: a 429 with ``Retry-After: 0`` put a feed polled hourly at the minimum interval, 429 after 429)."""
    backed_off = backoff(bounds, failures, base)
    waited = parse_retry_after(retry_after, now)
    return backed_off if waited is None else bounds.clamp(max(waited, backed_off))


def backoff(bounds: Bounds, failures: int, base: float) -> float:
    """``base`` doubled for each failure in a row (``failures`` >= 1), within the bounds."""
    return bounds.clamp(bounds.clamp(base) * 2 ** min(max(0, failures - 1), 32))


def _leading_directives(cache_control: str) -> str:
    """The directives within the first ``MAX_CACHE_CONTROL_CHARS`` characters: none is cut (a cut ``max-age=3600``
    would read as 36)."""
    if len(cache_control) <= MAX_CACHE_CONTROL_CHARS:
        return cache_control
    return cache_control[: cache_control.rfind(",", 0, MAX_CACHE_CONTROL_CHARS + 1) + 1]


def _age(headers: Mapping[str, str]) -> float:
    """Seconds the answer was held by caches before it came (``Age``); 0 if absent or invalid."""
    found = _AGE.fullmatch(headers.get("Age") or "")
    return float(found.group(1)) if found else 0.0
