"""Crawl pattern benchmark: a hostile glob on long URLs, against a linear baseline and a backtracking regex.

Globs (``linkcast.crawl.patterns``) against ``https://example.com/`` followed by N ``a`` (no match) and by N ``a``
then the end of a match: ``*a*a*a*a*a*a*a*a*a*a*b``, the pattern that makes a backtracking engine try every
placement (the matcher decides it by its anchored end, before any search); the same with a trailing ``*``, which
makes the matcher search the whole URL for the ``b``; and one piece of 998 characters that matches up to its middle
at every position, the substring search's hardest case. The linear baseline is one pass of ``str.count`` over the
same text, which reads every character: the matcher must stay within a small constant of it at every N.

The hostile glob as a Python regular expression (``.*a.*a…b``, a naive translation) is timed at growing N, one
character at a time, until one match takes more than ``--regex-budget`` seconds: that is why user patterns never
reach ``re``. Last, a worst case per link: ``--worst-patterns`` patterns of 1,000 characters whose pieces nearly
match everywhere, all tried on one URL of each ``--worst-chars`` length.

No network. Run: ``python -m bench.bench_patterns [--sizes 10000,100000,1000000] [--regex-budget 2] [--json PATH]``;
tiny: ``--sizes 1000 --regex-budget 0.05 --worst-chars 10000 --worst-patterns 4 --repeats 1``.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from linkcast.crawl.patterns import MAX_PATTERN_CHARS, Pattern, PatternFilter
from linkcast.crawl.urls import crawl_key

HOSTILE = "*a*a*a*a*a*a*a*a*a*a*b"
NEAR_MISS = "a" * 500 + "b" + "a" * 497  # a piece that matches up to its middle at every position of "aaa…"
# (label, glob): the hostile glob is decided by its anchored end ('b') before any search; with a trailing '*' the
# matcher must search the whole URL for the 'b'; the near-miss piece is the substring search's hardest case.
GLOBS = ((HOSTILE, HOSTILE), (HOSTILE + "*", HOSTILE + "*"), ("*a{500}ba{497}*", f"*{NEAR_MISS}*"))
PREFIX = "https://example.com/"


def seconds(run: Callable[[], object], repeats: int) -> float:
    """The median time of ``repeats`` runs (the machine is shared: the median resists the odd slow one)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def glob_figures(sizes: list[int], repeats: int) -> list[dict[str, Any]]:
    """Each glob on N ``a`` (no match) and on N ``a`` then the end of a match, beside one pass of ``str.count``."""
    rows = []
    for label, text in GLOBS:
        pattern = Pattern.parse(text)
        for size in sizes:
            for last in ("", NEAR_MISS[500:] if text.endswith(NEAR_MISS + "*") else "b"):
                key = crawl_key(PREFIX + "a" * size + last)
                assert pattern.matches(key) is bool(last)
                glob = seconds(partial(pattern.matches, key), repeats)
                baseline = seconds(partial(key.count, "a"), repeats)  # reads every character: no skipping ahead
                rows.append(
                    {
                        "pattern": label,
                        "url_chars": len(key),
                        "matches": bool(last),
                        "glob_ms": glob * 1e3,
                        "baseline_ms": baseline * 1e3,
                        "glob_ns_per_char": glob / len(key) * 1e9,
                        "ratio_to_baseline": glob / baseline,
                    }
                )
    return rows


def regex_figures(budget: float) -> list[dict[str, Any]]:
    """The naive regex translation of the same glob, at growing N until one match exceeds ``budget`` seconds."""
    regex = re.compile(".*".join(map(re.escape, HOSTILE.split("*"))), re.DOTALL)
    rows: list[dict[str, Any]] = []
    size = 8
    while True:
        text = PREFIX + "a" * size
        start = time.perf_counter()
        assert regex.fullmatch(text) is None
        elapsed = time.perf_counter() - start
        rows.append({"url_chars": len(text), "regex_ms": elapsed * 1e3})
        if elapsed > budget:
            return rows
        size += 1  # each more character multiplies the time (about 1.8x here): the last run stays near budget


def worst_link_figure(chars: int, patterns: int, repeats: int) -> dict[str, Any]:
    """Every pattern as long as allowed, each piece nearly matching everywhere, against one long URL; the last
    include pattern is ``*``, so every pattern is tried (``allows`` stops at the first answer it can give)."""
    half = (MAX_PATTERN_CHARS - 4) // 2
    piece = "a" * half + "b" + "a" * (MAX_PATTERN_CHARS - 4 - half - 1)
    texts = [f"*{piece}*{i % 10}*" for i in range(patterns)]
    include = patterns // 2
    rules = PatternFilter.parse(include=[*texts[: include - 1], "*"], exclude=texts[include:])
    key = crawl_key(PREFIX + "a" * chars)
    assert rules.allows(key)
    elapsed = seconds(partial(rules.allows, key), repeats)
    return {"url_chars": len(key), "patterns": patterns, "ms": elapsed * 1e3}


def main() -> None:
    parser = argparse.ArgumentParser(description="hostile crawl patterns: linear glob vs baseline vs regex")
    parser.add_argument("--sizes", default="10000,100000,1000000", help="URL lengths (characters after the host)")
    parser.add_argument("--repeats", type=int, default=5, help="runs per figure (median)")
    parser.add_argument("--regex-budget", type=float, default=2.0, help="stop the regex at this many seconds")
    parser.add_argument(
        "--worst-chars",
        default="8192,2097152",
        help="URL lengths of the worst case (8 KiB: the API's URL limit; 2 MiB: Chromium's)",
    )
    parser.add_argument(
        "--worst-patterns", type=int, default=100, help="patterns in the worst case (the most a crawl has)"
    )
    parser.add_argument("--json", type=Path, help="also write every figure here")
    args = parser.parse_args()

    figures = {
        "glob": glob_figures([int(size) for size in args.sizes.split(",")], args.repeats),
        "regex": regex_figures(args.regex_budget),
        "worst_link": [
            worst_link_figure(int(chars), args.worst_patterns, args.repeats) for chars in args.worst_chars.split(",")
        ],
    }
    for row in figures["glob"]:
        print(
            f"glob {row['pattern']:<25} {row['url_chars']:>9,} chars, match={row['matches']!s:5}: "
            f"{row['glob_ms']:8.3f} ms ({row['glob_ns_per_char']:.2f} ns/char), baseline {row['baseline_ms']:8.3f} ms, "
            f"ratio {row['ratio_to_baseline']:.1f}"
        )
    print(f"{HOSTILE!r} as a backtracking regex (Python re), no match:")
    for row in figures["regex"]:
        print(f"  {row['url_chars']:>9,} chars: {row['regex_ms']:10.3f} ms")
    for worst in figures["worst_link"]:
        print(
            f"worst case per link: {worst['patterns']} patterns of {MAX_PATTERN_CHARS} chars on a "
            f"{worst['url_chars']:,}-char URL: {worst['ms']:.2f} ms"
        )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
