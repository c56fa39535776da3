"""What ``linkcast crawl`` shows while a crawl runs, and where.

stdout carries the crawl's data, stderr the talk about it, so that ``linkcast crawl URL > pages.tsv`` keeps a clean
file while its progress stays on screen:

- ``--json``: every event of the crawl's stream on stdout, one JSON line each (``crawl.accepted``, ``page``,
  ``skipped``, ``crawl.progress``, ``crawl.done``), as ``linkcast watch --json`` prints them; nothing else moves.
- otherwise, when stderr is a terminal, a progress bar there (``rich``): URLs ended out of those admitted so far,
  fetched, failed, queued, skipped, pages/s.
- otherwise, or when stdout is not a terminal (a file, a pipe), one line per page on stdout: ``URL<TAB>status<TAB>
  links`` (``crawl_counts.page_line``), for ``cut``/``awk``. On a terminal with a bar, a line per page would only
  scroll the bar away; ``--json`` has every detail.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import ExitStack
from types import TracebackType
from typing import Any, Protocol, TextIO

import orjson
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn
from rich.table import Column
from rich.text import Text

from linkcast.cli.crawl_counts import CrawlTally, PageRate, page_line
from linkcast.core.crawls import PAGE


class Display(Protocol):
    def show(self, event: dict[str, Any], tally: CrawlTally) -> None:
        """``event`` has arrived; ``tally`` counts it already."""


class JsonLines:
    """Every event as one line of JSON."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def show(self, event: dict[str, Any], tally: CrawlTally) -> None:
        self.out.write(orjson.dumps(event).decode() + "\n")
        self.out.flush()  # a reader of the pipe sees each page as it comes


class PageLines:
    """One line per page: ``URL<TAB>status<TAB>links``."""

    def __init__(self, out: TextIO) -> None:
        self.out = out

    def show(self, event: dict[str, Any], tally: CrawlTally) -> None:
        if event.get("type") == PAGE:
            self.out.write(page_line(event) + "\n")
            self.out.flush()


class PagesPerSecond(ProgressColumn):
    def __init__(self, rate: PageRate, table_column: Column | None = None) -> None:
        super().__init__(table_column)
        self.rate = rate

    def render(self, task: Task) -> Text:
        return Text(f"{self.rate.per_second():.1f} pages/s", style="progress.data.speed")


class ProgressBar:
    """The crawl's progress on a terminal: its total is what the crawl has admitted so far, so it grows as links are
    found, and the bar fills as admitted URLs end. Notices printed meanwhile (``report.say``) go above it."""

    def __init__(self, crawl_id: str, console: Console, pages_before: int) -> None:
        self.rate = PageRate(pages_before, time.monotonic)
        # One line across the terminal: the bar takes the room the rest leaves (about 10 columns of 80), and on a
        # terminal narrower still the counts are cut short rather than wrapped. The duration is in the summary.
        self.progress = Progress(
            TextColumn("{task.description}", table_column=Column(no_wrap=True)),
            BarColumn(bar_width=None),
            MofNCompleteColumn(table_column=Column(no_wrap=True)),
            TextColumn("{task.fields[counts]}", table_column=Column(no_wrap=True, overflow="ellipsis")),
            PagesPerSecond(self.rate, table_column=Column(no_wrap=True)),
            console=console,
            expand=True,
            redirect_stdout=False,  # stdout may be a file of page lines: it must not be drawn into the terminal
        )
        self.task = self.progress.add_task(short_id(crawl_id), total=None, counts="")

    def __enter__(self) -> ProgressBar:
        self.progress.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self.progress.stop()  # the last state stays on screen, above what comes next (the summary, a prompt)

    def show(self, event: dict[str, Any], tally: CrawlTally) -> None:
        self.rate.record(tally.pages)
        skipped = sum(tally.skipped.values())
        counts = f"fetched {tally.fetched} failed {tally.failed} queued {tally.queued} skipped {skipped}"
        self.progress.update(self.task, completed=tally.ended, total=tally.admitted or None, counts=counts)


def short_id(crawl_id: str, width: int = 12) -> str:
    """The crawl's id on the bar: a random one is 32 characters, and its first 8 tell it apart on one's screen."""
    return crawl_id if len(crawl_id) <= width else crawl_id[: width - 4] + "…"


class CrawlOutput:
    """The displays a crawl's events go to (see the module's docstring for which), shown and closed together."""

    def __init__(self, displays: Sequence[Display]) -> None:
        self.displays = displays
        self.tally = CrawlTally()
        self._stack = ExitStack()

    @classmethod
    def choose(cls, crawl_id: str, as_json: bool, stdout: TextIO, stderr: TextIO, pages_before: int) -> CrawlOutput:
        """The displays for these streams; ``pages_before``: pages the crawl had fetched before this client came."""
        if as_json:
            return cls([JsonLines(stdout)])
        displays: list[Display] = []
        if stderr.isatty():
            displays.append(ProgressBar(crawl_id, Console(file=stderr), pages_before))
        if not displays or not stdout.isatty():
            displays.append(PageLines(stdout))
        return cls(displays)

    def __enter__(self) -> CrawlOutput:
        for display in self.displays:
            if isinstance(display, ProgressBar):
                self._stack.enter_context(display)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self._stack.close()

    def show(self, event: dict[str, Any]) -> None:
        self.tally.observe(event)
        for display in self.displays:
            display.show(event, self.tally)
