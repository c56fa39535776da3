"""bench/bench_patterns.py at a tiny size, so the bench cannot rot: every figure measured, every match as expected."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

TINY = ("--sizes", "1000", "--regex-budget", "0.01", "--worst-chars", "2000", "--worst-patterns", "4", "--repeats", "1")


def test_bench_patterns_measures_the_glob_the_baseline_and_the_regex(tmp_path: Path) -> None:
    out = tmp_path / "patterns.json"
    root = Path(__file__).resolve().parents[2]
    subprocess.run(
        [sys.executable, "-m", "bench.bench_patterns", *TINY, "--json", str(out)], cwd=root, check=True, timeout=60
    )
    figures = json.loads(out.read_text())
    assert len(figures["glob"]) == 3 * 2  # three globs, each on a matching and a non-matching URL
    assert {row["matches"] for row in figures["glob"]} == {True, False}
    assert all(row["glob_ms"] >= 0 and row["baseline_ms"] > 0 for row in figures["glob"])
    assert figures["regex"][-1]["regex_ms"] > 10  # it ran until the regex took longer than its budget
    [worst] = figures["worst_link"]
    assert worst["patterns"] == 4 and worst["ms"] >= 0
