"""RSS ``<skipHours>`` and ``<skipDays>``: read from the channel, kept as a mask, and the poll due in a skipped hour
moved to the first hour the feed does not skip, spread over it, never past the maximum interval."""

from __future__ import annotations

import asyncio
import calendar
import random
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from linkcast.feeds.parse import parse_feed
from linkcast.feeds.schedule import Bounds, outside_skipped
from linkcast.feeds.skips import first_allowed, skip_mask
from tests.feeds.test_polling import watch
from tests.support.feed_site import Feed, FeedServer, rss
from tests.support.service import Service

# Monday 2027-01-04, 10:30:00 UTC.
MONDAY_1030 = float(calendar.timegm((2027, 1, 4, 10, 30, 0)))
HOUR = 3600.0


def hours(*values: int) -> list[tuple[str, str]]:
    return [("hour", str(value)) for value in values]


def test_hours_and_days_make_a_mask_and_what_is_no_hour_or_day_is_left_out() -> None:
    assert skip_mask([]) == 0
    assert skip_mask(hours(0, 23)) == 1 | 1 << 23
    assert skip_mask([("hour", " 07 "), ("day", " Sunday "), ("day", "MONDAY")]) == 1 << 7 | 1 << 30 | 1 << 24
    assert skip_mask(hours(24)) == 1  # midnight, counted from 1 as some RSS 0.91 feeds do
    for junk in ("25", "-1", "1.5", "", "seven", "٣", "007"):
        assert skip_mask([("hour", junk)]) == 0, junk
    assert skip_mask([("day", "Sun"), ("day", "someday")]) == 0


def test_hints_that_leave_no_time_are_no_hints() -> None:
    every_hour = hours(*range(24))
    assert skip_mask(every_hour) == 0
    every_day = [("day", day) for day in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")]
    assert skip_mask(every_day + hours(3)) == 1 << 3  # the days dropped, the hour kept
    assert skip_mask(every_hour + every_day[:1]) == 1 << 24


def test_a_time_in_a_skipped_hour_or_day_moves_to_the_start_of_the_first_free_hour() -> None:
    assert first_allowed(MONDAY_1030, 0) == MONDAY_1030
    assert first_allowed(MONDAY_1030, skip_mask(hours(9, 11))) == MONDAY_1030  # 10 is free
    assert first_allowed(MONDAY_1030, skip_mask(hours(10, 11, 12))) == MONDAY_1030 - 30 * 60 + 3 * HOUR
    # Monday skipped: Tuesday 00:00; and with hours 0-5 skipped too, Tuesday 06:00.
    tuesday = MONDAY_1030 - 10.5 * HOUR + 24 * HOUR
    assert first_allowed(MONDAY_1030, skip_mask([("day", "Monday")])) == tuesday
    assert first_allowed(MONDAY_1030, skip_mask([("day", "Monday"), *hours(*range(6))])) == tuesday + 6 * HOUR
    # Every day but Sunday (the mask keeps it): the next Sunday, at 00:00.
    days = [("day", d) for d in ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")]
    assert first_allowed(MONDAY_1030, skip_mask(days)) == tuesday + 5 * 24 * HOUR


def test_a_poll_moved_out_of_skipped_hours_is_spread_over_the_first_free_one_and_bounded_by_the_maximum() -> None:
    bounds = Bounds(minimum=900.0, maximum=86400.0, default=HOUR)
    mask = skip_mask(hours(10, 11))
    noon = MONDAY_1030 - 30 * 60 + 2 * HOUR
    rng = random.Random(7)
    moved = [outside_skipped(bounds, mask, MONDAY_1030, MONDAY_1030 + 900, 1800.0, rng) for _ in range(200)]
    assert all(noon <= at < noon + 1800.0 for at in moved)
    assert max(moved) - min(moved) > 1500  # spread, not all at 12:00:00
    long = [outside_skipped(bounds, mask, MONDAY_1030, MONDAY_1030 + 900, 86400.0, rng) for _ in range(200)]
    assert all(noon <= at < noon + HOUR for at in long)  # within the free hour, whatever the interval
    assert outside_skipped(bounds, mask, MONDAY_1030, MONDAY_1030 - 1800 + 3 * HOUR, 900.0) == MONDAY_1030 + 2.5 * HOUR
    short = Bounds(minimum=1.0, maximum=600.0, default=60.0)
    assert outside_skipped(short, mask, MONDAY_1030, MONDAY_1030 + 60, 60.0) == MONDAY_1030 + 600.0


def channel(inside: str) -> bytes:
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{inside}'
        "<item><guid>a</guid><skipHours><hour>4</hour></skipHours></item></channel></rss>"
    ).encode()


@pytest.mark.parametrize(
    ("inside", "mask"),
    [
        ("", 0),
        ("<skipHours><hour>1</hour><hour> 2 </hour></skipHours><skipDays><day>Saturday</day></skipDays>",
         1 << 1 | 1 << 2 | 1 << 29),
        ("<skipHours><hour>1</hour></skipHours><skipHours><hour>2</hour></skipHours>", 1 << 1 | 1 << 2),
        ("<skipHours><hour>1<b>9</b></hour><day>Monday</day></skipHours>", 1 << 19),  # only <hour> in skipHours
        ("<hour>5</hour><image><skipHours><hour>6</hour></skipHours></image>", 0),  # only the channel's lists
        ("<skipHours>" + "<hour>99</hour>" * 64 + "<hour>3</hour></skipHours>", 0),  # 64 read at the most
    ],
)  # fmt: skip
def test_the_channel_s_skip_hours_and_days_are_read(inside: str, mask: int) -> None:
    assert parse_feed(channel(inside), "http://127.0.0.1/f.xml").skip_mask == mask


def test_an_atom_feed_has_no_skip_hours() -> None:
    atom = b'<feed xmlns="http://www.w3.org/2005/Atom"><title>t</title><skipHours><hour>1</hour></skipHours></feed>'
    assert parse_feed(atom, "http://127.0.0.1/a.xml").skip_mask == 0


@pytest.fixture
async def skipping_poller(tmp_path: Path) -> AsyncIterator[Service]:
    fast = ["--feed-min-interval", "0.3", "--feed-max-interval", "3", "--feed-default-interval", "0.5"]
    service = Service("--allow-private-networks", "--rate-limit", "0", *fast, store=f"sqlite:///{tmp_path}/l.db")
    await service.start()
    yield service
    service.stop()


async def test_a_feed_that_skips_the_hours_ahead_is_polled_at_the_maximum_interval_after_a_200_and_a_304(
    skipping_poller: Service, server: FeedServer
) -> None:
    """The hint outlives the 200 that gave it: a 304 is not read, and still keeps out of the hours it skips."""
    now = time.gmtime()
    skipped = "".join(f"<hour>{(now.tm_hour + n) % 24}</hour>" for n in range(3))
    body = rss(("a", "A")).replace("</channel>", f"<skipHours>{skipped}</skipHours></channel>")
    url = server.feed("/skips.xml", Feed(body))
    await watch(skipping_poller, "s", url)
    async with asyncio.timeout(20):  # found and read (a 200), then polled again at the maximum interval (a 304)
        while (record := (await skipping_poller.call("GET", "/feeds/s"))[1])["last_status"] != 304:
            await asyncio.sleep(0.1)
    assert record["next_poll"] - record["last_poll"] == pytest.approx(3.0), record  # not 0.5-0.55
