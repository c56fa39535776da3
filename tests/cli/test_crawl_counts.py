"""What ``linkcast crawl`` makes of a crawl's events without a server: its counts between the server's, its summary,
its page lines, its pages/s, the request it sends, and which displays it picks for which streams."""

from __future__ import annotations

import io
from typing import Any

import pytest

from linkcast.cli.command import build_parser
from linkcast.cli.crawl import COMMAND, crawl_body
from linkcast.cli.crawl_counts import CrawlTally, PageRate, describe_counts, duration, page_line, summary
from linkcast.cli.crawl_output import CrawlOutput, JsonLines, PageLines, ProgressBar, short_id
from linkcast.core.crawls import CrawlCounts


def counts(fetched: int = 0, failed: int = 0, queued: int = 0, **skipped: int) -> dict[str, Any]:
    return CrawlCounts(fetched, failed, queued, CrawlCounts().skipped | skipped).to_dict()


def page(url: str, depth: int = 1, **fields: Any) -> dict[str, Any]:
    return {"type": "page", "url": url, "depth": depth, **fields}


def test_the_total_is_what_the_crawl_has_admitted_and_holds_between_counts() -> None:
    tally = CrawlTally()
    tally.observe({"type": "crawl.accepted", "counts": counts(queued=2)})
    assert (tally.ended, tally.admitted) == (0, 2)
    tally.observe(page("http://a/", depth=0, status_code=200, links=[]))
    tally.observe({"type": "skipped", "url": "http://a/x", "depth": 0, "reason": "robots"})
    assert (tally.fetched, tally.queued, tally.skipped_at_fetch, tally.ended, tally.admitted) == (1, 0, 1, 2, 2)
    # the first page's links were admitted meanwhile: the next counts say so, and the total grows
    tally.observe({"type": "crawl.progress", "counts": counts(fetched=1, queued=5, robots=1, scope=3)})
    assert (tally.ended, tally.admitted, sum(tally.skipped.values())) == (2, 7, 4)
    tally.observe(page("http://a/b", error={"code": "timeout", "message": "slow"}))
    assert (tally.failed, tally.pages, tally.queued, tally.admitted) == (1, 2, 4, 7)


def test_only_seeds_that_were_not_fetched_are_seed_failures() -> None:
    tally = CrawlTally()
    tally.observe(page("http://a/", depth=0, error={"code": "dns", "message": "no such host"}))
    tally.observe(page("http://a/deep", depth=1, error={"code": "timeout", "message": "slow"}))
    tally.observe({"type": "skipped", "url": "http://b/", "depth": 0, "reason": "robots"})
    tally.observe(page("http://c/", depth=0, status_code=200, links=[]))
    assert tally.seed_failures == ["http://a/: dns: no such host", "http://b/: robots"]


def test_counts_name_only_the_skip_reasons_that_happened() -> None:
    assert (
        describe_counts(counts(5, 1, 0, robots=1, depth=8))
        == "5 fetched, 1 failed, 0 queued, 9 skipped (robots 1, depth 8)"
    )
    assert describe_counts(counts(2)) == "2 fetched, 0 failed, 0 queued, 0 skipped"


def test_the_summary_measures_the_crawl_by_the_servers_clock() -> None:
    done = {"state": "done", "counts": counts(30, 10), "started_at": 100.0, "finished_at": 120.0}
    assert summary("c", done) == "crawl c done in 20.0 s: 30 fetched, 10 failed, 0 queued, 0 skipped, 2.0 pages/s"
    cancelled = {"state": "cancelled", "counts": counts(1, 0, 4), "started_at": 100.0, "finished_at": 100.5}
    assert summary("c", cancelled).startswith("crawl c cancelled after 0.50 s: 1 fetched, 0 failed, 4 queued")
    never_started = {"state": "cancelled", "counts": counts(queued=1), "started_at": None, "finished_at": 100.0}
    assert summary("c", never_started) == "crawl c cancelled: 0 fetched, 0 failed, 1 queued, 0 skipped"


@pytest.mark.parametrize(
    ("seconds", "words"),
    [(0.0371, "0.04 s"), (9.994, "9.99 s"), (12.46, "12.5 s"), (187.4, "3 min 07 s"), (7500, "2 h 05 min")],
)
def test_a_duration_is_as_precise_as_its_length_calls_for(seconds: float, words: str) -> None:
    assert duration(seconds) == words


def test_a_page_line_is_its_url_status_and_link_count_or_its_error_code() -> None:
    assert page_line(page("http://a/", status_code=200, links=["x", "y"])) == "http://a/\t200\t2"
    assert (
        page_line(page("http://a/b", error={"code": "http_status", "message": "404"})) == "http://a/b\thttp_status\t-"
    )


def test_pages_per_second_counts_the_last_window_and_falls_to_zero_when_pages_stop() -> None:
    now = [0.0]
    rate = PageRate(100, lambda: now[0], window=5.0)  # 100 pages before this client came: not speed
    now[0] = 0.1
    rate.record(100)  # the replay of those 100 pages
    assert rate.per_second() == 0.0
    for second in range(1, 11):
        now[0] = float(second)
        rate.record(100 + 10 * second)
    assert rate.per_second() == pytest.approx(10.0)
    now[0] = 16.0
    assert rate.per_second() == 0.0
    assert len(rate.samples) == 1, "what is out of the window is forgotten"


def body_of(*argv: str) -> dict[str, Any]:
    return crawl_body(build_parser([COMMAND]).parse_args(["crawl", *argv]))


def test_the_request_holds_the_seeds_and_only_the_options_given() -> None:
    assert body_of("https://a.example/") == {"url": "https://a.example/"}
    assert body_of("https://a.example/", "https://b.example/", "--depth", "0") == {
        "urls": ["https://a.example/", "https://b.example/"],
        "max_depth": 0,
    }
    assert body_of(
        "https://a.example/", "--max-pages", "5", "--scope", "any", "--include", "/a*", "--include", "/b*",
        "--exclude", "*.pdf", "--no-robots", "--sitemaps",
    ) == {
        "url": "https://a.example/", "max_pages": 5, "scope": "any", "include": ["/a*", "/b*"], "exclude": ["*.pdf"],
        "respect_robots": False, "sitemaps": True,
    }  # fmt: skip


class Stream(io.StringIO):
    def __init__(self, terminal: bool) -> None:
        super().__init__()
        self.terminal = terminal

    def isatty(self) -> bool:
        return self.terminal


@pytest.mark.parametrize(
    ("as_json", "stdout_tty", "stderr_tty", "displays"),
    [
        (True, True, True, [JsonLines]),  # --json: the events, and nothing to draw over them
        (False, True, True, [ProgressBar]),  # a person at a terminal: the bar, no scroll of pages
        (False, False, True, [ProgressBar, PageLines]),  # > pages.tsv on a terminal: the file, and the bar
        (False, True, False, [PageLines]),  # 2> log: no bar, so the pages show
        (False, False, False, [PageLines]),  # a script: the pages
    ],
)
def test_the_displays_suit_where_stdout_and_stderr_go(
    as_json: bool, stdout_tty: bool, stderr_tty: bool, displays: list[type]
) -> None:
    output = CrawlOutput.choose("c", as_json, Stream(stdout_tty), Stream(stderr_tty), 0)
    assert [type(display) for display in output.displays] == displays


def test_the_bar_names_a_random_id_by_its_first_characters() -> None:
    assert short_id("asked") == "asked"
    assert short_id("1ed9910834754791b9a06dc41ee61b8b") == "1ed99108…"
