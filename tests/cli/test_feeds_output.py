"""What ``linkcast feeds`` and ``linkcast watch --feeds`` print, from the answers and events alone: one line per feed,
per failure and per event, whatever a feed's title holds."""

from __future__ import annotations

from typing import Any

from linkcast.cli.feeds_output import ImportOutcome, duration, feed_table
from linkcast.cli.watch import describe, is_feed_event
from linkcast.feeds.opml import NOT_HTTP_URL, REPEATED_OUTLINE

NOW = 1_000_000.0


def record(**fields: Any) -> dict[str, Any]:
    base = {"feed_id": "news", "url": "http://a.example/feed.xml", "state": "active", "title": "News",
            "entry_count": 12, "last_poll": NOW - 90, "next_poll": NOW + 3 * 3600, "last_error": None}  # fmt: skip
    return {**base, **fields}


def test_the_table_aligns_each_column_under_its_heading() -> None:
    lines = feed_table([record(), record(feed_id="a-much-longer-id", entry_count=7, title="Other")], NOW)
    assert lines == [
        "ID                STATE   TITLE  ENTRIES  LAST POLL  NEXT POLL",
        "news              active  News        12  1m ago     in 3h",
        "a-much-longer-id  active  Other        7  1m ago     in 3h",
    ]


def test_a_title_is_one_line_cut_to_its_column_and_the_url_stands_in_until_there_is_one() -> None:
    long = record(title="Breaking\nnews\tfrom   everywhere " + "x" * 100)
    untitled = record(feed_id="new", title=None, last_poll=None, next_poll=NOW - 1, entry_count=0)
    _, first, second = feed_table([long, untitled], NOW)
    assert first.split("  ")[2].startswith("Breaking news from everywhere xxx") and "…" in first
    assert len(first.split("…")[0].split("  ", 2)[2].strip()) == 39  # 40 columns, the ellipsis the last
    assert second.split() == ["new", "active", "http://a.example/feed.xml", "0", "never", "due"]


def test_a_feed_in_error_shows_its_last_errors_code_and_a_gone_one_no_next_poll() -> None:
    failing = record(state="error", last_error={"code": "timeout", "message": "slow"})
    gone = record(feed_id="old", state="gone", next_poll=None)
    _, first, second = feed_table([failing, gone], NOW)
    assert first.split()[1:3] == ["error", "(timeout)"]
    assert second.split()[1] == "gone" and second.endswith("ago     -")


def test_durations_are_said_in_their_largest_whole_unit() -> None:
    assert [duration(s) for s in (0, 59, 60, 3599, 3600, 86399, 86400, 5 * 86400)] == [
        "0s", "59s", "1m", "59m", "1h", "23h", "1d", "5d",
    ]  # fmt: skip


def test_an_import_counts_added_existing_and_failed_with_each_failures_reason() -> None:
    answer = {
        "results": [
            {"index": 0, "status": "accepted", "feed_id": "a", "url": "http://a.example/"},
            {"index": 1, "status": "existing", "feed_id": "b", "url": "http://b.example/"},
            {"index": 2, "url": "http://c.example/", "error": {"code": "blocked", "message": "denied\nhost"}},
        ],
        "skipped": [
            {"url": "http://a.example/", "reason": REPEATED_OUTLINE},
            {"url": "ftp://x/", "reason": NOT_HTTP_URL},
        ],
    }
    assert ImportOutcome.of(answer).lines() == [
        "1 added, 2 existing, 2 failed",
        "failed: http://c.example/: blocked: denied host",
        f"failed: ftp://x/: {NOT_HTTP_URL}",
    ]


def test_a_feeds_events_are_one_line_each_with_what_they_say() -> None:
    entry = {
        "id": 7,
        "type": "feed.entry",
        "request_id": "news",
        "entry_id": "e",
        "title": "Big\nday",
        "link": "http://a/1",
    }
    assert describe(entry).split() == ["7", "feed.entry", "news", "http://a/1", "Big", "day"]
    assert describe({**entry, "changed": True}).endswith("Big day (changed)")
    assert describe({**entry, "backlog": True, "title": None, "link": None}).split()[3:] == [
        "(no",
        "title)",
        "(backlog)",
    ]
    hostile = describe({**entry, "title": "a\x1b[2Jb\x07c\x9bd"})
    assert hostile.endswith("a [2Jb c d") and not any(ord(char) < 0x20 or 0x7F <= ord(char) < 0xA0 for char in hostile)
    moved = {"id": 8, "type": "feed.moved", "request_id": "news", "url": "http://b/", "previous_url": "http://a/"}
    assert describe(moved).endswith("http://b/  <- moved from http://a/")
    assert describe({"id": 9, "type": "feed.gone", "request_id": "news", "url": "http://b/"}).endswith(
        "no longer polled"
    )
    error = {
        "type": "feed.error",
        "request_id": "news",
        "url": "http://b/",
        "error": {"code": "timeout", "message": "m"},
    }
    assert describe(error).endswith("!! timeout: m")


def test_watch_feeds_keeps_the_feeds_events_and_the_streams_own_notices() -> None:
    kept = ["feed.accepted", "feed.entry", "feed.moved", "feed.gone", "feed.error", "feed.removed", "history_truncated"]
    dropped = ["accepted", "started", "result", "error", "page", "skipped", "crawl.done"]
    assert [kind for kind in kept + dropped if is_feed_event({"type": kind})] == kept
