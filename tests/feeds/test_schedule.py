"""When the next poll comes: what the answer's caching headers and the feed ask for (RFC 9111 where it says how long a
response stays fresh), clamped to the operator's bounds and jittered; Retry-After and back-off after a failure."""

from __future__ import annotations

import random
from email.utils import formatdate

import pytest
from multidict import CIMultiDict

from linkcast.feeds.schedule import (
    MAX_CACHE_CONTROL_CHARS,
    Bounds,
    asked_interval,
    backoff,
    failure_interval,
    next_interval,
    retry_interval,
)

NOW = 1_800_000_000.0
BOUNDS = Bounds(minimum=900.0, maximum=86400.0, default=3600.0)  # the defaults: 15 min, 24 h, 1 h


def http_date(at: float) -> str:
    return formatdate(at, usegmt=True)


@pytest.mark.parametrize(
    ("headers", "ttl", "asked"),
    [
        ({}, None, None),
        ({}, 1800.0, 1800.0),  # the feed's <ttl> or sy:updatePeriod when the headers say nothing
        ({"Cache-Control": "max-age=600"}, 1800.0, 600.0),  # the headers before the feed
        ({"Cache-Control": "public, max-age=600, must-revalidate"}, None, 600.0),
        ({"Cache-Control": "private,max-age=600"}, None, 600.0),
        ({"Cache-Control": 'max-age="600"'}, None, 600.0),
        ({"Cache-Control": "max-age=0"}, 1800.0, 0.0),  # stale at once: the minimum interval, not the feed's ttl
        ({"Cache-Control": "s-maxage=600"}, 1800.0, 1800.0),  # for shared caches only: linkcast is a private one
        ({"Cache-Control": "s-maxage=60, max-age=600"}, None, 600.0),
        ({"Cache-Control": "no-cache, max-age=600"}, 1800.0, 1800.0),  # no-cache says nothing of how often it changes
        ({"Cache-Control": "no-store"}, None, None),
        ({"Cache-Control": "max-age=99999999999999"}, None, 99999999999999.0),  # past any bound, clamped later
        # max-age wins over Expires (RFC 9111 4.2.1)
        ({"Cache-Control": "max-age=600", "Expires": http_date(NOW + 7200)}, None, 600.0),
        ({"Expires": http_date(NOW + 7200)}, 60.0, 7200.0),
        ({"Expires": http_date(NOW + 7200), "Date": http_date(NOW - 3600)}, None, 10800.0),  # against the Date sent
        ({"Expires": http_date(NOW - 60)}, 1800.0, 0.0),  # already stale
        # an invalid Expires, "0" above all, is a time in the past (RFC 9111 5.3)
        ({"Expires": "0"}, 1800.0, 0.0),
        ({"Expires": "never"}, 1800.0, 0.0),
        # Age: the answer was already that old when it came (RFC 9111 4.2.3), so it stays fresh that much less
        ({"Cache-Control": "max-age=600", "Age": "100"}, None, 500.0),
        ({"Cache-Control": "max-age=600", "Age": "6000"}, None, 0.0),
        ({"Cache-Control": "max-age=600", "Age": "junk"}, None, 600.0),
        ({"Expires": http_date(NOW + 7200), "Date": http_date(NOW), "Age": "200"}, None, 7000.0),
    ],
)
def test_the_interval_an_answer_asks_for(headers: dict[str, str], ttl: float | None, asked: float | None) -> None:
    assert asked_interval(headers, ttl, NOW) == asked


def test_cache_control_sent_on_several_lines_is_read_whole() -> None:
    headers = CIMultiDict([("Cache-Control", "public"), ("Cache-Control", "max-age=600")])
    assert asked_interval(headers, None, NOW) == 600.0
    headers = CIMultiDict([("Cache-Control", "max-age=600"), ("Cache-Control", "no-cache")])
    assert asked_interval(headers, 1800.0, NOW) == 1800.0


def test_only_the_leading_cache_control_directives_are_read() -> None:
    # 128 lines of 32 KiB of Cache-Control were searched whole, twice, at every poll: 0.26 s of the event loop.
    lines = [("Cache-Control", "," * 32 * 1024)] * 128 + [("Cache-Control", "max-age=60")]
    assert asked_interval(CIMultiDict(lines), 7.0, 0) == 7.0  # past the bound: not read, as if not sent
    padding = "a," * ((MAX_CACHE_CONTROL_CHARS - 10) // 2)
    assert asked_interval({"Cache-Control": padding + "max-age=3600"}, None, 0) is None  # cut: not read as 36
    assert asked_interval({"Cache-Control": padding[:-10] + "max-age=3600, x=" + "y" * 9000}, None, 0) == 3600


def test_the_interval_is_clamped_and_jittered_never_in_step() -> None:
    rng = random.Random(7)
    # never sooner than asked (a site that says max-age=3600, or "at most hourly", gets no poll at 54 minutes), but
    # sooner than the maximum when that is the interval: later is not allowed
    for asked, low, high in [(None, 3600.0, 3960.0), (60.0, 900.0, 990.0), (10**9, 77760.0, 86400.0),
                             (0.0, 900.0, 990.0), (7200.0, 7200.0, 7920.0), (80000.0, 80000.0, 86400.0)]:  # fmt: skip
        intervals = {next_interval(BOUNDS, asked, rng) for _ in range(50)}
        assert all(low <= interval <= high for interval in intervals), (asked, intervals)
        # spread over the whole span even at a bound: clamping after the jitter would put half of them on it, in step
        assert len(intervals) == 50, (asked, sorted(intervals)[:5])


@pytest.mark.parametrize(
    ("retry_after", "wait"),
    [
        ("10800", 10800.0),
        # The least wait: one shorter than the back-off (the second failure in a row: 2 h) is the back-off, never a
        # poll sooner because the server said how long to wait
        ("3600", 7200.0),
        ("0", 7200.0),
        ("999999999", 86400.0),  # never longer than the maximum
        ("9" * 400, 86400.0),  # past any number kept: still a wait (at the maximum), not junk to back off from
        (http_date(NOW + 14400), 14400.0),
        (http_date(NOW - 7200), 7200.0),  # a date in the past: the back-off
        ("soon", 3600.0 * 2),  # no usable value: the back-off
        ("-5", 3600.0 * 2),
        ("²", 3600.0 * 2),
    ],
)
def test_retry_after_in_seconds_or_a_date_is_the_least_wait_within_the_bounds(retry_after: str, wait: float) -> None:
    assert retry_interval(BOUNDS, retry_after, NOW, 2, 3600.0) == wait
    assert retry_interval(BOUNDS, "60", NOW, 1, 600.0) == 900.0  # not before the minimum interval
    assert retry_interval(BOUNDS, "1200", NOW, 1, 600.0) == 1200.0


@pytest.mark.parametrize("retry_after", [None, "7200", http_date(NOW + 14400)])
def test_failures_that_share_a_wait_come_back_spread_never_sooner_than_it(retry_after: str | None) -> None:
    """A host failing its feeds at once (or sending them one Retry-After date) gets them back over a span, not in the
    same second, and none before the wait it asked for."""
    rng = random.Random(7)
    least = retry_interval(BOUNDS, retry_after, NOW, 2, 3600.0) if retry_after else backoff(BOUNDS, 2, 3600.0)
    waits = [failure_interval(BOUNDS, retry_after, NOW, 2, 3600.0, rng) for _ in range(200)]
    assert least <= min(waits) and max(waits) <= min(BOUNDS.maximum, least * 1.1)
    assert max(waits) - min(waits) > least * 0.05  # spread over the span, not one instant
    at_most = [failure_interval(BOUNDS, retry_after, NOW, 40, 3600.0, rng) for _ in range(200)]
    assert set(at_most) == {BOUNDS.maximum}  # never sooner than the maximum the failures reached


def test_failures_back_off_exponentially_up_to_the_maximum() -> None:
    waits = [backoff(BOUNDS, failures, 3600.0) for failures in range(1, 8)]
    assert waits == [3600.0, 7200.0, 14400.0, 28800.0, 57600.0, 86400.0, 86400.0]
    assert backoff(BOUNDS, 1000, 60.0) == 86400.0
    assert backoff(BOUNDS, 1, 60.0) == 900.0  # the base itself is within the bounds
