"""How often a feed says to poll it: RSS ``<ttl>``, else the syndication module's ``sy:updatePeriod`` and
``sy:updateFrequency`` (RSS 1.0, often in RSS 2.0 too). A value that makes no sense is no advice (None)."""

from __future__ import annotations

import math

_PERIODS = {"hourly": 3600.0, "daily": 86400.0, "weekly": 604800.0, "monthly": 2592000.0, "yearly": 31536000.0}
MAX_TTL_SECONDS = 366 * 86400.0  # a year: longer advice is taken as a year


def ttl_seconds(ttl: str | None, period: str | None, frequency: str | None) -> float | None:
    """Seconds between polls the feed advises, or None."""
    minutes = _number(ttl)
    if minutes is not None and minutes > 0:
        return min(minutes * 60, MAX_TTL_SECONDS)
    if period is None and frequency is None:
        return None
    seconds = _PERIODS.get((period or "daily").strip().lower())  # the module's default period is daily
    times = _number(frequency) if frequency is not None else 1.0
    if seconds is None or times is None or times < 1:
        return None
    return min(seconds / times, MAX_TTL_SECONDS)


def _number(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        value = float(text.strip()[:32])
    except ValueError:
        return None
    return value if math.isfinite(value) else None
