"""Feed dates to UTC ISO 8601 (``2026-12-06T15:04:30Z``): RFC 822/2822 as feeds write it, RFC 3339 and ISO 8601.

Feeds get dates wrong in a handful of known ways, all read here: two-digit years (RFC 822's own; 00-49 are 20xx),
named zones (``EST``, ``PDT``, ``CEST``...; an unknown name is taken as UTC, as RFC 2822 says of military zones),
missing seconds, missing weekdays or a wrong one, full month and day names, ``Sept``, a colon in the offset, RFC 850
and asctime forms, ISO dates with a space instead of ``T``, without a zone (UTC) or without a time (midnight).
Anything else (year 0, month 13, 31 February, words) is None: a bad date is a missing date, never an error.
Fractions of a second are dropped; a leap second is read as the second before it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

MAX_DATE_CHARS = 100  # no date is longer; a longer text is not read

_MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"), ("may",),
            ("jun", "june"), ("jul", "july"), ("aug", "august"), ("sep", "sept", "september"),
            ("oct", "october"), ("nov", "november"), ("dec", "december"),
        ],
        start=1,
    )
    for name in names
}  # fmt: skip

# Hours east of UTC. RFC 822's names, then those feeds use most; ambiguous ones (IST, CST as China's) as in the US.
_ZONES = {
    "ut": 0, "utc": 0, "gmt": 0, "z": 0, "wet": 0,
    "est": -5, "edt": -4, "cst": -6, "cdt": -5, "mst": -7, "mdt": -6, "pst": -8, "pdt": -7,
    "akst": -9, "akdt": -8, "hst": -10, "ast": -4, "adt": -3, "nst": -3.5, "ndt": -2.5,
    "bst": 1, "ist": 1, "west": 1, "cet": 1, "met": 1, "cest": 2, "mest": 2, "eet": 2, "eest": 3, "msk": 3,
    "jst": 9, "kst": 9, "hkt": 8, "sgt": 8, "awst": 8, "acst": 9.5, "aest": 10, "aedt": 11, "nzst": 12, "nzdt": 13,
}  # fmt: skip

_RFC822 = re.compile(
    r"""(?:[a-z]+\.?,?\s*)?                              # weekday, any spelling, ignored
        (\d{1,2})[\s-]+([a-z]+)\.?[\s-]+(\d{2,4})        # 6 Dec 2026, 06-Dec-26
        (?:[\sT,]+(\d{1,2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?  # 15:04, 15:04:30, 15:04:30.5
        \s*(am|pm)?)?
        \s*(?:([+-])(\d{2}):?(\d{2})|\(?([a-z]{1,5})\)?|([+-]\d{1,2}))?  # +0100, +01:00, GMT, (EST), -5
        \s*$""",
    re.IGNORECASE | re.VERBOSE,
)
_ASCTIME = re.compile(
    r"(?:[a-z]+,?\s+)?([a-z]+)\s+(\d{1,2})\s+(\d{1,2}):(\d{2})(?::(\d{2}))?\s+(?:([a-z]{1,5})\s+)?(\d{4})\s*$",
    re.IGNORECASE,
)
_COMMENT = re.compile(r"\s+\([^()]*\)$")
_ISO = re.compile(
    r"""(\d{4})-?(\d{2})-?(\d{2})                        # 2026-12-06, 20261206
        (?:[T\s]+(\d{2}):?(\d{2})(?::?(\d{2}))?(?:[.,]\d+)?)?  # T15:04, T15:04:30.123
        \s*(?:(Z|UTC|GMT)|([+-])(\d{2}):?(\d{2})?)?$""",
    re.IGNORECASE | re.VERBOSE,
)


def parse_date(text: str | None) -> str | None:
    """``text`` as ``YYYY-MM-DDTHH:MM:SSZ`` in UTC, or None when it is no date this can read."""
    if not text:
        return None
    text = text.strip()
    if not text or len(text) > MAX_DATE_CHARS:
        return None
    text = _COMMENT.sub("", text)  # "+0000 (UTC)": a comment after the zone
    moment = _iso(text) if text[:4].isdigit() else None
    if moment is None:
        moment = _rfc822(text) or _asctime(text)
    if moment is None:
        return None
    try:
        utc = moment.astimezone(UTC)
    except OverflowError:
        return None
    if not 1 <= utc.year <= 9999:
        return None
    return f"{utc.year:04d}-{utc.month:02d}-{utc.day:02d}T{utc.hour:02d}:{utc.minute:02d}:{utc.second:02d}Z"


def _moment(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, offset: float = 0
) -> datetime | None:
    """The instant, or None for a day or time that does not exist (a leap second counts as :59; 24:00 as midnight)."""
    if year < 1 or not (0 <= hour <= 24 and minute <= 59 and second <= 60) or abs(offset) > 18:
        return None
    if hour == 24 and (minute or second):
        return None
    try:
        base = datetime(year, month, day, 0, minute, min(second, 59), tzinfo=UTC)
        return base + timedelta(hours=hour - offset)
    except (ValueError, OverflowError):
        return None


def _iso(text: str) -> datetime | None:
    match = _ISO.match(text)
    if match is None:
        return None
    year, month, day, hour, minute, second, utc, sign, off_hours, off_minutes = match.groups()
    offset = 0.0
    if sign:
        offset = int(off_hours) + int(off_minutes or 0) / 60
        offset = -offset if sign == "-" else offset
    del utc  # Z, UTC or none: UTC
    return _moment(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0), offset)


def _rfc822(text: str) -> datetime | None:
    match = _RFC822.match(text)
    if match is None:
        return None
    day, month_name, year_text, hour, minute, second, meridiem, sign, off_h, off_m, zone, bare_offset = match.groups()
    month = _MONTHS.get(month_name.lower())
    if month is None:
        return None
    year = int(year_text)
    if len(year_text) == 2:
        year += 2000 if year < 50 else 1900
    elif len(year_text) == 3:
        year += 1900  # Perl-style years since 1900 ("126"), seen in old generators
    hours = int(hour or 0)
    if meridiem:
        if not 1 <= hours <= 12:
            return None
        hours = hours % 12 + (12 if meridiem.lower() == "pm" else 0)
    offset: float = 0
    if sign:
        offset = int(off_h) + int(off_m) / 60
        offset = -offset if sign == "-" else offset
    elif bare_offset:
        offset = int(bare_offset)
    elif zone:
        offset = _ZONES.get(zone.lower(), 0)
    return _moment(year, month, int(day), hours, int(minute or 0), int(second or 0), offset)


def _asctime(text: str) -> datetime | None:
    match = _ASCTIME.match(text)
    if match is None:
        return None
    month_name, day, hour, minute, second, zone, year = match.groups()
    month = _MONTHS.get(month_name.lower())
    if month is None:
        return None
    offset = _ZONES.get(zone.lower(), 0) if zone else 0
    return _moment(int(year), month, int(day), int(hour), int(minute), int(second or 0), offset)
