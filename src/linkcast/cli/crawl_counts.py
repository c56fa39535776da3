"""What ``linkcast crawl`` knows of a crawl's counts while its events arrive, and how it puts them in words.

The server sends a crawl's counts with ``crawl.accepted``, then at most once a second with ``crawl.progress``, and
last with ``crawl.done``. In between, each ``page`` and ``skipped`` event is one URL ended, so the client keeps the
counts moving itself (a ``crawl.progress`` follows the events before it in the log, so its counts replace the
client's without a jump back). Links admitted since the last counts show up only with the next ones: until then the
total stays where it was.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from linkcast.core.crawls import (
    CRAWL_ACCEPTED,
    CRAWL_CANCELLED,
    CRAWL_DONE_EVENT,
    CRAWL_PROGRESS,
    PAGE,
    SKIP_REASONS,
    SKIPPED,
)

COUNTED = frozenset({CRAWL_ACCEPTED, CRAWL_PROGRESS, CRAWL_DONE_EVENT})


@dataclass
class CrawlTally:
    """A crawl's counts as of the last event seen.

    ``skipped_at_fetch`` counts the ``skipped`` events: URLs admitted to the frontier, then not fetched (robots.txt,
    or a redirect to a page the crawl had visited). The server's ``skipped`` counts do not tell them apart from the
    links never admitted (out of scope, too deep...), and only they belong in the bar's total."""

    fetched: int = 0
    failed: int = 0
    queued: int = 0
    skipped: dict[str, int] = field(default_factory=lambda: dict.fromkeys(SKIP_REASONS, 0))
    skipped_at_fetch: int = 0
    seed_failures: list[str] = field(default_factory=list)  # "url: code: message" for each seed not fetched

    @property
    def pages(self) -> int:
        """URLs fetched, whatever came of it: what pages/s counts."""
        return self.fetched + self.failed

    @property
    def ended(self) -> int:
        """Admitted URLs that have ended: fetched, failed or skipped when their turn came."""
        return self.pages + self.skipped_at_fetch

    @property
    def admitted(self) -> int:
        """URLs admitted to the crawl so far, as of the last counts: the ended ones and those still queued."""
        return self.ended + self.queued

    def observe(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind in COUNTED and isinstance(event.get("counts"), dict):
            self._take_counts(event["counts"])
        elif kind == PAGE:
            self._ended_one(event)
            if "error" in event:
                self.failed += 1
            else:
                self.fetched += 1
        elif kind == SKIPPED:
            self._ended_one(event)
            self.skipped_at_fetch += 1
            reason = str(event.get("reason", ""))
            self.skipped[reason] = self.skipped.get(reason, 0) + 1

    def _take_counts(self, counts: dict[str, Any]) -> None:
        self.fetched = int(counts.get("fetched", self.fetched))
        self.failed = int(counts.get("failed", self.failed))
        self.queued = int(counts.get("queued", self.queued))
        self.skipped = {**self.skipped, **counts.get("skipped", {})}

    def _ended_one(self, event: dict[str, Any]) -> None:
        self.queued = max(self.queued - 1, 0)
        if event.get("depth") != 0:
            return
        if event.get("type") == SKIPPED:
            self.seed_failures.append(f"{event.get('url')}: {event.get('reason')}")
        elif isinstance(error := event.get("error"), dict):
            self.seed_failures.append(f"{event.get('url')}: {error.get('code')}: {error.get('message')}")


def describe_counts(counts: dict[str, Any]) -> str:
    """``5 fetched, 1 failed, 0 queued, 3 skipped (robots 1, scope 1, duplicate 1)``: the reasons that count."""
    skipped = {reason: int(count) for reason, count in counts.get("skipped", {}).items() if count}
    reasons = f" ({', '.join(f'{reason} {count}' for reason, count in skipped.items())})" if skipped else ""
    return (
        f"{counts.get('fetched', 0)} fetched, {counts.get('failed', 0)} failed, {counts.get('queued', 0)} queued, "
        f"{sum(skipped.values())} skipped{reasons}"
    )


def summary(crawl_id: str, ended: dict[str, Any]) -> str:
    """One line for a crawl that has ended, from its ``crawl.done`` event or its record (the same fields): its state,
    counts, duration and pages/s, by the server's clock, so that a crawl followed from its middle, or replayed once
    over, is measured as it ran."""
    state, counts = str(ended.get("state")), ended.get("counts") or {}
    started_at, finished_at = ended.get("started_at"), ended.get("finished_at")
    line = f"crawl {crawl_id} {state}"
    if not isinstance(started_at, int | float) or not isinstance(finished_at, int | float):
        return f"{line}: {describe_counts(counts)}"  # cancelled before its first fetch
    seconds = max(finished_at - started_at, 0.0)
    pages = int(counts.get("fetched", 0)) + int(counts.get("failed", 0))
    rate = f", {pages / seconds:.1f} pages/s" if seconds > 0 else ""
    since = "after" if state == CRAWL_CANCELLED else "in"
    return f"{line} {since} {duration(seconds)}: {describe_counts(counts)}{rate}"


def duration(seconds: float) -> str:
    """``0.04 s``, ``12.5 s``, ``3 min 07 s``, ``2 h 05 min``: as precise as a reader of that length cares."""
    if seconds < 10:
        return f"{seconds:.2f} s"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest:02d} s"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def page_line(event: dict[str, Any]) -> str:
    """A ``page`` event as ``URL<TAB>status<TAB>links``: the HTTP status and the number of links, or for a page that
    failed its error code and ``-``. Tab-separated so that ``cut`` and ``awk`` read it (a URL holds no tab)."""
    error = event.get("error")
    if isinstance(error, dict):
        return f"{event.get('url')}\t{error.get('code')}\t-"
    return f"{event.get('url')}\t{event.get('status_code')}\t{len(event.get('links', []))}"


class PageRate:
    """Pages per second over the last ``window`` seconds, falling to 0 when pages stop coming.

    Started from the pages the crawl had when the client came, so that the burst of a replay (a crawl followed from
    its middle) is not taken for speed."""

    def __init__(self, pages: int, clock: Callable[[], float], window: float = 5.0) -> None:
        self.clock = clock
        self.window = window
        self.samples: deque[tuple[float, int]] = deque([(clock(), pages)])

    def record(self, pages: int) -> None:
        now = self.clock()
        self.samples.append((now, pages))
        self._forget_before(now - self.window)

    def per_second(self) -> float:
        now = self.clock()
        self._forget_before(now - self.window)
        since, first = self.samples[0]
        latest = self.samples[-1][1]
        return (latest - first) / (now - since) if now > since and latest > first else 0.0

    def _forget_before(self, start: float) -> None:
        """Keep one sample at or before ``start`` (where the window begins) and those after it."""
        while len(self.samples) > 1 and self.samples[1][0] <= start:
            self.samples.popleft()
