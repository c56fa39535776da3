"""robots.txt matching under attack: a hostile wildcard pattern against long paths, and the everyday cost.

The hostile pattern ``/*a*a*a*a*a*a*a*a*a*a*b`` against ``/aaa…a`` (no ``b``) is the classic catastrophic case for a
matcher that turns ``*`` into a backtracking ``.*``: every way of placing ten ``a`` is tried before giving up. The
bench times linkcast's segment matcher on paths of growing length, Protego (PyPI, if installed) beside it, and the
backtracking regex in a child process killed at ``--regex-budget`` seconds, which is where it stops being measurable.
Then the everyday figures: checks per second against a 200-rule robots.txt, and the time to parse a 500 KiB one.

Run: ``python -m bench.bench_robots [--lengths 1000,10000,100000,1000000] [--json FILE]``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from linkcast.crawl.robots import ROBOTS_PARSE_LIMIT, parse_robots

HOSTILE = "/" + "*a" * 10 + "*b"
REGEX_CHILD = """
import re, sys, time
pattern, length = sys.argv[1], int(sys.argv[2])
regex = re.compile(".*?".join(re.escape(p) for p in pattern.split("*")))
path = "/" + "a" * length
started = time.perf_counter()
regex.match(path)
print(time.perf_counter() - started)
"""


def best_of(check: Callable[[], object], repeats: int) -> float:
    """Median seconds of ``repeats`` runs (after one warm-up run)."""
    check()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        check()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def hostile_linkcast(lengths: list[int], repeats: int) -> dict[int, float]:
    rules = parse_robots(f"User-agent: *\nDisallow: {HOSTILE}\n".encode())
    figures = {}
    for length in lengths:
        path = "/" + "a" * length
        assert rules.allows(path, "bench") and not rules.allows(path + "b", "bench")
        figures[length] = best_of(lambda path=path: rules.allows(path, "bench"), repeats)  # type: ignore[misc]
    return figures


def hostile_protego(lengths: list[int], repeats: int) -> dict[int, float] | None:
    if importlib.util.find_spec("protego") is None:
        return None
    from protego import Protego

    rules = Protego.parse(f"User-agent: *\nDisallow: {HOSTILE}\n")
    return {
        length: best_of(lambda length=length: rules.can_fetch("http://h/" + "a" * length, "bench"), repeats)  # type: ignore[misc]
        for length in lengths
    }


def hostile_regex(budget: float) -> dict[int, float | None]:
    """Seconds the backtracking regex takes on growing paths; None where it passed the budget (killed)."""
    figures: dict[int, float | None] = {}
    for length in (10, 15, 20, 25, 30, 40, 60):
        try:
            done = subprocess.run(
                [sys.executable, "-c", REGEX_CHILD, HOSTILE, str(length)],
                capture_output=True,
                text=True,
                timeout=budget,
                check=True,
            )
            figures[length] = float(done.stdout)
        except subprocess.TimeoutExpired:
            figures[length] = None
            break
    return figures


def everyday(repeats: int) -> dict[str, float]:
    lines = ["User-agent: *"]
    lines += [f"Disallow: /section{n}/private" for n in range(100)]
    lines += [f"Allow: /section{n}/*.html$" for n in range(100)]
    rules = parse_robots("\n".join(lines).encode())
    paths = [f"/section{n % 150}/page{n}.html?x={n}" for n in range(1000)]
    per_check = best_of(lambda: [rules.allows(path, "bench") for path in paths], repeats) / len(paths)
    big = b"User-agent: *\n" + b"".join(
        b"Disallow: /a%d/*/b%d$\n" % (n, n) for n in range(ROBOTS_PARSE_LIMIT // 20)
    )  # past the limit: the cut is part of the cost
    parse_seconds = best_of(lambda: parse_robots(big), max(1, repeats // 3))
    return {"checks_per_second_200_rules": 1 / per_check, "parse_500_kib_seconds": parse_seconds}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", default="1000,10000,100000,1000000", help="path lengths for the hostile pattern")
    parser.add_argument("--repeats", type=int, default=7, help="runs per figure (the median counts)")
    parser.add_argument("--regex-budget", type=float, default=5.0, help="seconds before the regex child is killed")
    parser.add_argument("--json", type=Path, help="write the figures here too")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    lengths = [int(n) for n in args.lengths.split(",")]
    figures: dict[str, Any] = {
        "pattern": HOSTILE,
        "linkcast": hostile_linkcast(lengths, args.repeats),
        "protego": hostile_protego(lengths, args.repeats),
        "backtracking_regex": hostile_regex(args.regex_budget),
        "everyday": everyday(args.repeats),
    }
    print(f"hostile pattern {HOSTILE} against /aaa…a (no b): seconds per check")
    print(f"{'path length':>12} {'linkcast':>12} {'protego':>12}")
    for length in lengths:
        protego = f"{figures['protego'][length]:.6f}" if figures["protego"] else "not installed"
        print(f"{length:>12,} {figures['linkcast'][length]:>12.6f} {protego:>12}")
    print(f"backtracking regex (.*? per '*', killed at {args.regex_budget:g} s):")
    for length, seconds in figures["backtracking_regex"].items():
        print(f"{length:>12,} {'killed' if seconds is None else f'{seconds:.6f}':>12}")
    print(f"everyday: {figures['everyday']['checks_per_second_200_rules']:,.0f} checks/s on 200 rules; ")
    print(f"          {figures['everyday']['parse_500_kib_seconds']:.3f} s to parse a 500 KiB robots.txt")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
