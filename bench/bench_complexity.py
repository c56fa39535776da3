"""Hostile inputs cost linear time: each one read at a size and at ``--factor`` times it, side by side.

Each case is an input that once cost quadratic time or worse in one of linkcast's readers (found by audits; the tests
named beside each case hold what the reader must answer). The bench times each case at its size and at ``--factor``
times that size in the same run, and reports the ratio and the growth exponent, log(ratio) / log(factor): about 1 is
linear, 2 quadratic. The pass/fail tests check only the answers; how the cost grows is measured here, where a shared
machine's slow moment moves a figure rather than failing a build.

No network. Run: ``python -m bench.bench_complexity [--factor 8] [--repeats 5] [--json PATH]``;
tiny: ``--fraction 0.02 --factor 2 --repeats 1``.
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from linkcast.core.cjk import big5_lookalikes
from linkcast.core.encoding import meta_charset
from linkcast.core.links import find_links
from linkcast.feeds import FeedError, FeedLimits, parse_feed
from linkcast.feeds import text as feed_text
from linkcast.feeds.opml import read_opml

FEED_URL = "https://example.com/feed.xml"
UNHURRIED = FeedLimits(max_seconds=600)  # the cost is measured, not cut short by the parse's time bound


@dataclass(frozen=True)
class Case:
    """``build(units)`` makes the hostile input; ``read`` runs the reader on it and returns a short outcome that
    must be the same at every size (the bench refuses a figure for a reader that answered differently)."""

    name: str
    test: str
    units: int
    build: Callable[[int], Any]
    read: Callable[[Any], object]


def nested(opening: bytes) -> Callable[[int], bytes]:
    names = opening[1:-1].split(b"><")
    closing = b"".join(b"</" + name + b">" for name in reversed(names))
    return lambda times: opening * times + closing * times + b"<a href=/z>"


def links(body: bytes) -> object:
    return find_links(body, "https://example.com/").links


def feed_error(body: bytes) -> object:
    try:
        parse_feed(body, FEED_URL, limits=UNHURRIED)
    except FeedError as error:
        return error.code
    return "parsed"


def entry_ids(body: bytes) -> object:
    return [entry.entry_id for entry in parse_feed(body, FEED_URL, limits=UNHURRIED).entries]


def long_base(times: int) -> bytes:
    base = "https://example.com/" + "a" * (times * 9) + "/"
    return (
        f'<feed xmlns="http://www.w3.org/2005/Atom" xml:base="{base}">' + '<x xml:base="b/"/>' * times
        + f'<entry xml:base="{base}"><id>1</id><content type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml"'
        + ' xml:base="c/">' + '<a href="x">x</a>' * times + "</div></content></entry></feed>"
    ).encode()  # fmt: skip


def xhtml_links(body: bytes) -> object:
    return find_links(body, "https://example.com/", "application/xhtml+xml").links


def xhtml_nested(times: int) -> bytes:
    html = b'<html xmlns="http://www.w3.org/1999/xhtml"><body>'
    return html + b"<div>" * times + b"</div>" * times + b"<a href='/z'/></body></html>"


def xhtml_namespaces(times: int) -> bytes:
    root = " ".join(f'xmlns:p{n}="urn:{n}"' for n in range(times))
    children = '<x xmlns:q="urn:q" q:y="1"/>' * times
    return f'<html xmlns="http://www.w3.org/1999/xhtml" {root}><body>{children}<a href="/z"/></body></html>'.encode()


def namespaces(times: int) -> bytes:
    root = " ".join(f'xmlns:p{n}="urn:{n}"' for n in range(times))
    children = '<x xmlns:q="urn:q"/>' * times
    return f"<rss {root}><channel>{children}<item><guid>1</guid></item></channel></rss>".encode()


CASES = (
    Case("links: nested <svg>", "tests/core/test_links.py", 6_000, nested(b"<svg>"), links),
    Case("links: nested <math><mi><svg>", "tests/core/test_links.py", 2_500, nested(b"<math><mi><svg>"), links),
    # Deeper than MAX_DEPTH, the reading stops (both sizes answer []).
    Case("xhtml links: nested <div>", "tests/core/test_xhtml.py", 20_000, xhtml_nested, xhtml_links),
    Case("xhtml links: many namespace declarations", "tests/core/test_xhtml.py", 30_000, xhtml_namespaces, xhtml_links),
    Case(
        "encoding: <meta> after many comments",
        "tests/core/test_encoding.py",
        64 * 1024,
        lambda times: b"<!--x-->" * times + b"<meta charset=koi8-r>",
        meta_charset,
    ),
    Case(
        "encoding: Big5 lookalike pairs",
        "tests/core/test_encoding.py",
        16_000,
        lambda times: b"\xa2\x41" * times,
        lambda data: bool(big5_lookalikes(data)),
    ),
    Case(
        "opml: a title of entity references",
        "tests/feeds/test_opml.py",
        125_000,
        lambda times: b"<opml><head><title>" + b"&eacute;" * times + b"</title></head><body/></opml>",
        lambda body: bool(read_opml(body).title),
    ),
    Case(
        "json feed: an unterminated string of quotes",
        "tests/feeds/test_hostile.py",
        16_000,
        lambda times: b'{"version": "https://jsonfeed.org/version/1.1", "items": [{}, ' + b'"\\' * times,
        feed_error,
    ),
    Case(
        "atom: an author of many names",
        "tests/feeds/test_hostile.py",
        100_000,
        lambda times: (
            b'<feed xmlns="http://www.w3.org/2005/Atom"><author>'
            + b"<name>x</name>" * times
            + b"</author><entry><id>1</id></entry></feed>"
        ),
        entry_ids,
    ),
    Case("rss: many namespace declarations", "tests/feeds/test_hostile.py", 30_000, namespaces, entry_ids),
    Case("atom: xml:base under a long base", "tests/feeds/test_hostile.py", 23_000, long_base, entry_ids),
    Case(
        "feed text: a tag that never ends",
        "tests/feeds/test_text.py",
        5_400,
        lambda times: "<p>" + "<a " * times,
        feed_text._simple_text,
    ),
    Case(
        "feed text: an unquoted value of slashes",
        "tests/feeds/test_text.py",
        8_000,
        lambda times: "<p><a x=" + "b/" * times,
        feed_text._simple_text,
    ),
)


def seconds(run: Callable[[], object], repeats: int) -> float:
    """The median CPU time of this thread over ``repeats`` runs: other processes on the shared cores count less."""
    times = []
    for _ in range(repeats):
        start = time.thread_time()
        run()
        times.append(time.thread_time() - start)
    return statistics.median(times)


def figure(case: Case, fraction: float, factor: int, repeats: int) -> dict[str, Any]:
    small_units = max(1, round(case.units * fraction))
    small, large = case.build(small_units), case.build(small_units * factor)
    outcome = case.read(small)
    if case.read(large) != outcome:
        raise AssertionError(f"{case.name}: answered {case.read(large)!r} at the larger size, {outcome!r} before")
    small_seconds = seconds(lambda: case.read(small), repeats)
    large_seconds = seconds(lambda: case.read(large), repeats)
    ratio = large_seconds / small_seconds if small_seconds > 0 else math.nan
    return {
        "case": case.name,
        "test": case.test,
        "bytes": [len(small), len(large)],
        "outcome": repr(outcome)[:60],
        "ms": [small_seconds * 1e3, large_seconds * 1e3],
        "ratio": ratio,
        "exponent": math.log(ratio) / math.log(factor) if ratio > 0 else math.nan,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description="hostile inputs: cost at a size and at --factor times it")
    parser.add_argument("--factor", type=int, default=8, help="how many times larger the second input is")
    parser.add_argument("--fraction", type=float, default=1.0, help="scale every case's first size by this")
    parser.add_argument("--repeats", type=int, default=5, help="runs per figure (median)")
    parser.add_argument("--json", type=Path, help="also write every figure here")
    args = parser.parse_args()
    rows = [figure(case, args.fraction, args.factor, args.repeats) for case in CASES]
    for row in rows:
        print(
            f"{row['case']:<44} {row['bytes'][0]:>10,} B {row['ms'][0]:9.2f} ms | {row['bytes'][1]:>11,} B "
            f"{row['ms'][1]:9.2f} ms | x{row['ratio']:6.1f}, exponent {row['exponent']:.2f}"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({"factor": args.factor, "cases": rows}, indent=2))


if __name__ == "__main__":
    main()
