"""Dates: RFC 822/2822 with its usual breakage, RFC 3339 and ISO 8601, to UTC ``Z``; nonsense is None."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from linkcast.feeds.dates import parse_date


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Sun, 06 Dec 2026 15:04:30 GMT", "2026-12-06T15:04:30Z"),
        ("Sun, 06 Dec 2026 15:04:30 +0000", "2026-12-06T15:04:30Z"),
        ("Sun, 6 Dec 2026 15:04:30 -0500", "2026-12-06T20:04:30Z"),
        ("Sun, 06 Dec 2026 15:04:30 +01:00", "2026-12-06T14:04:30Z"),
        ("Sun, 06 Dec 26 15:04:30 GMT", "2026-12-06T15:04:30Z"),  # two-digit year
        ("Mon, 06 Dec 99 15:04:30 GMT", "1999-12-06T15:04:30Z"),
        ("Sun, 06 Dec 2026 15:04 EST", "2026-12-06T20:04:00Z"),  # no seconds, a named zone
        ("Sun, 06 Dec 2026 15:04:30 PDT", "2026-12-06T22:04:30Z"),
        ("Sun, 06 Dec 2026 15:04:30 CEST", "2026-12-06T13:04:30Z"),
        ("Sun, 06 Dec 2026 15:04:30 XYZ", "2026-12-06T15:04:30Z"),  # an unknown zone is UTC
        ("Sun, 06 Dec 2026 15:04:30", "2026-12-06T15:04:30Z"),
        ("06 Dec 2026 15:04:30 GMT", "2026-12-06T15:04:30Z"),  # no weekday
        ("Monday, 06 Dec 2026 15:04:30 GMT", "2026-12-06T15:04:30Z"),  # a wrong weekday is ignored
        ("Sunday, 06-Dec-26 15:04:30 GMT", "2026-12-06T15:04:30Z"),  # RFC 850
        ("Sun Dec  6 15:04:30 2026", "2026-12-06T15:04:30Z"),  # asctime
        ("Sun, 06 September 2026 03:04 PM GMT", "2026-09-06T15:04:00Z"),
        ("Sun, 06 Sept 2026 15:04:30 +0000 (UTC)", "2026-09-06T15:04:30Z"),
        ("Tue, 30 Jun 2015 23:59:60 GMT", "2015-06-30T23:59:59Z"),  # a leap second
        ("2026-12-06T15:04:30Z", "2026-12-06T15:04:30Z"),
        ("2026-12-06T15:04:30.123456+05:30", "2026-12-06T09:34:30Z"),
        ("2026-12-06T15:04:30-0800", "2026-12-06T23:04:30Z"),
        ("2026-12-06 15:04:30", "2026-12-06T15:04:30Z"),  # no zone: UTC
        ("2026-12-06T15:04", "2026-12-06T15:04:00Z"),
        ("2026-12-06", "2026-12-06T00:00:00Z"),
        ("20261206T150430Z", "2026-12-06T15:04:30Z"),
        ("2026-12-31T23:30:00-01:00", "2027-01-01T00:30:00Z"),
        ("  2026-12-06T15:04:30Z \n", "2026-12-06T15:04:30Z"),
    ],
)
def test_dates_feeds_write_are_read(text: str, expected: str) -> None:
    assert parse_date(text) == expected


@pytest.mark.parametrize(
    "text",
    ["", "   ", "today", "0000-01-01T00:00:00Z", "2026-13-01", "2026-00-10", "2026-02-30", "2026-12-06T25:00:00Z",
     "Sun, 06 Foo 2026 15:04:30 GMT", "Sun, 32 Dec 2026 15:04:30 GMT", "Sun, 06 Dec 2026 15:61:00 GMT",
     "0001-01-01T00:00:00+01:00", "9999-12-31T23:00:00-05:00", "2026-12-06T15:04:30+25:00", "1" * 200, None],
)  # fmt: skip
def test_nonsense_is_none(text: str | None) -> None:
    assert parse_date(text) is None


@given(st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
       st.integers(min_value=-14 * 60, max_value=14 * 60))  # fmt: skip
def test_any_rfc_3339_and_rfc_2822_moment_reads_back_exactly(moment: datetime, offset_minutes: int) -> None:
    zone = timedelta(minutes=offset_minutes)
    local = moment.replace(microsecond=0)
    utc = local - zone
    sign = "-" if offset_minutes < 0 else "+"
    offset = f"{sign}{abs(offset_minutes) // 60:02d}{abs(offset_minutes) % 60:02d}"
    expected = f"{utc.year:04d}-{utc:%m-%dT%H:%M:%S}Z"
    assert parse_date(f"{local.year:04d}-{local:%m-%dT%H:%M:%S}{offset[:3]}:{offset[3:]}") == expected
    if local.year >= 1000:
        assert parse_date(f"{local:%a, %d %b} {local.year} {local:%H:%M:%S} {offset}") == expected


@given(st.text(max_size=60))
def test_any_text_gives_a_date_or_none_never_an_error(text: str) -> None:
    found = parse_date(text)
    assert found is None or (len(found) == 20 and found.endswith("Z"))
