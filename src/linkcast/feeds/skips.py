"""The hours and days a feed asks not to be polled in: RSS ``<skipHours>`` (``<hour>`` 0-23, GMT) and ``<skipDays>``
(``<day>`` Monday to Sunday), "a hint for aggregators telling them which hours they can skip" (RSS 2.0).

Kept as one number (a bit per hour of the day, then per day of the week), so the store keeps it in one column.
Hints that leave no time at all (every hour, or every day, skipped) are no hints: a feed cannot ask never to be read.
The poller takes them within its own bound: a poll is never put off past ``--feed-max-interval``.

API::

    skip_mask([("hour", "0"), ("day", "Sunday")]) -> int   # what the feed's elements say; 0: nothing skipped
    first_allowed(when, mask) -> float                     # ``when``, or the start of the next hour not skipped
"""

from __future__ import annotations

import time
from collections.abc import Iterable

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_HOURS = (1 << 24) - 1
_DAYS = ((1 << 7) - 1) << 24
MAX_SKIP_ELEMENTS = 64  # <hour> and <day> read at the most: 31 say everything, a feed with more repeats itself


def skip_mask(elements: Iterable[tuple[str, str]]) -> int:
    """The mask of ``("hour", text)`` and ``("day", text)`` pairs; values that are no hour or day are left out."""
    mask = 0
    for name, text in elements:
        value = text.strip().lower()
        if name == "hour" and value.isascii() and value.isdigit() and len(value) <= 2 and int(value) <= 24:
            mask |= 1 << (int(value) % 24)  # 24: midnight, as some RSS 0.91 feeds count the hours from 1
        elif name == "day" and value in DAYS:
            mask |= 1 << (24 + DAYS.index(value))
    if mask & _HOURS == _HOURS:
        mask &= ~_HOURS
    if mask & _DAYS == _DAYS:
        mask &= ~_DAYS
    return mask


def first_allowed(when: float, mask: int) -> float:
    """``when`` if neither its hour nor its day (UTC) is skipped, else the start of the first hour after it that is
    not (at most a week on: ``skip_mask`` leaves an hour of some day free)."""
    if not mask:
        return when
    hour_start = when - when % 3600
    for hours_on in range(7 * 24 + 1):
        start = hour_start + hours_on * 3600
        moment = time.gmtime(start)
        if not mask & (1 << moment.tm_hour) and not mask & (1 << (24 + moment.tm_wday)):
            return when if hours_on == 0 else start
    return when  # no free hour in a week: a mask skip_mask never makes
