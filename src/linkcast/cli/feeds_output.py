"""What ``linkcast feeds`` prints: the feeds as a table, the outcome of an OPML import, and the text of a feed's
events one line each (for ``linkcast watch``).

Feed titles come from other people's feeds: each is put on one line (line breaks, tabs and every other control
character made spaces, so that no escape sequence reaches the terminal) and cut to a width, so that one row is one
line whatever a feed holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from linkcast.core.feeds import FEED_ENTRY, FEED_ERROR, FEED_GONE_EVENT, FEED_MOVED
from linkcast.feeds.opml import REPEATED_OUTLINE

TITLE_WIDTH = 40  # of the table's title column
EVENT_TITLE_WIDTH = 200  # of an entry's title in watch's line
HEADINGS = ("ID", "STATE", "TITLE", "ENTRIES", "LAST POLL", "NEXT POLL")
RIGHT_ALIGNED = frozenset({"ENTRIES"})
_CONTROLS = dict.fromkeys((*range(0x20), 0x7F, *range(0x80, 0xA0)), " ")  # C0, DEL and C1


def one_line(text: Any, width: int) -> str:
    """``text`` on one line of at most ``width`` characters (cut with an ellipsis)."""
    line = " ".join(str(text or "").translate(_CONTROLS).split())
    return line if len(line) <= width else line[: width - 1] + "…"


def duration(seconds: float) -> str:
    """A duration as people say it at a glance: ``45s``, ``14m``, ``3h``, ``2d``."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size:.0f}{unit}"
    return f"{max(seconds, 0):.0f}s"


def last_poll(moment: float | None, now: float) -> str:
    return "never" if moment is None else f"{duration(now - moment)} ago"


def next_poll(moment: float | None, now: float) -> str:
    if moment is None:
        return "-"  # gone: never polled again
    return "due" if moment <= now else f"in {duration(moment - now)}"


def state(record: dict[str, Any]) -> str:
    """The feed's state, with the code of its last error while it is in error."""
    error = record.get("last_error") or {}
    if record.get("state") == FEED_ERROR and error.get("code"):
        return f"{FEED_ERROR} ({error['code']})"
    return str(record.get("state", "?"))


def feed_row(record: dict[str, Any], now: float) -> tuple[str, ...]:
    """A feed as the table's row: until its first poll names its title, its URL stands in for it."""
    return (
        str(record.get("feed_id", "")),
        state(record),
        one_line(record.get("title") or record.get("url"), TITLE_WIDTH),
        str(record.get("entry_count", 0)),
        last_poll(record.get("last_poll"), now),
        next_poll(record.get("next_poll"), now),
    )


def feed_table(records: Sequence[dict[str, Any]], now: float) -> list[str]:
    """The feeds as lines of aligned columns, under a heading (``now``: the time polls are counted from)."""
    rows = [HEADINGS, *(feed_row(record, now) for record in records)]
    widths = [max(len(row[column]) for row in rows) for column in range(len(HEADINGS))]
    lines = []
    for row in rows:
        cells = [
            cell.rjust(width) if heading in RIGHT_ALIGNED else cell.ljust(width)
            for heading, cell, width in zip(HEADINGS, row, widths, strict=True)
        ]
        lines.append("  ".join(cells).rstrip())
    return lines


@dataclass
class ImportOutcome:
    """What ``POST /feeds/import`` answered, counted: feeds added, watched already (before, or by an earlier outline
    of the same list), and failed, each failure as ``URL: why``."""

    added: int = 0
    existing: int = 0
    failures: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, answer: dict[str, Any]) -> ImportOutcome:
        outcome = cls()
        for result in answer.get("results", []):
            if "error" in result:
                error = result["error"]
                outcome.failures.append(f"{result.get('url', '?')}: {error.get('code')}: {error.get('message')}")
            elif result.get("status") == "existing":
                outcome.existing += 1
            else:
                outcome.added += 1
        for skipped in answer.get("skipped", []):
            if skipped.get("reason") == REPEATED_OUTLINE:
                outcome.existing += 1
            else:
                outcome.failures.append(f"{skipped.get('url', '?')}: {skipped.get('reason')}")
        return outcome

    def lines(self) -> list[str]:
        """The counts, then one line per failure."""
        counts = f"{self.added} added, {self.existing} existing, {len(self.failures)} failed"
        return [counts, *(f"failed: {one_line(failure, 1000)}" for failure in self.failures)]


def feed_event_detail(event: dict[str, Any]) -> str:
    """What follows the common head of a feed event's line (``watch.describe``): an entry's title and whether it is
    from the first poll or changed, where a feed moved from, that a feed is gone."""
    kind = event.get("type")
    if kind == FEED_ENTRY:
        flags = [flag for flag in ("backlog", "changed") if event.get(flag)]
        title = one_line(event.get("title"), EVENT_TITLE_WIDTH) or "(no title)"
        return f"  {title}" + (f" ({', '.join(flags)})" if flags else "")
    if kind == FEED_MOVED:
        return f"  <- moved from {event.get('previous_url')}"
    if kind == FEED_GONE_EVENT:
        return "  -- gone (410): no longer polled"
    return ""
