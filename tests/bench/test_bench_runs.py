"""The bench harness runs end to end on a tiny site and fills every row of its table (figures are not checked:
timing belongs in the bench, not in pass/fail tests)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

from tests.support.strict import require

ROOT = Path(__file__).resolve().parents[2]
TINY = [
    "--pages", "20", "--clients", "1,3", "--latency-requests", "10", "--latency-rate", "50",
    "--prototype-pages", "20", "--idle-clients", "20", "--scrapy-concurrency", "4,8", "--site-processes", "1",
    "--parser-pages", "5", "--parser-mb", "0.3", "--parser-repeats", "1", "--timeout", "30", "--repeats", "1",
]  # fmt: skip
BENCH_MODULES = ("scrapy", "bs4", "hypercorn", "requests", "lxml", "matplotlib")


def table_rows(markdown: str) -> list[list[str]]:
    """The cells of the first markdown table (the results), header and separator excluded."""
    lines = markdown.splitlines()
    start = next(n for n, line in enumerate(lines) if line.startswith("| metric |"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip().strip("|").split("|")])
    return rows


def test_bench_runs_end_to_end_and_fills_every_row(tmp_path: Path) -> None:
    missing = [name for name in BENCH_MODULES if importlib.util.find_spec(name) is None]
    require(not missing, f"the bench extra is not installed (missing {missing}): pip install -e '.[bench]'")
    plot = tmp_path / "results.png"
    done = subprocess.run(
        [sys.executable, "-m", "bench.run", *TINY, "--out", str(tmp_path), "--plot", str(plot)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=100,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    markdown = (tmp_path / "results.md").read_text()
    assert markdown in done.stdout  # the table is printed as well as written
    rows = table_rows(markdown)
    header = next(line for line in markdown.splitlines() if line.startswith("| metric |"))
    width = header.count("|") - 1
    metrics = [row[0] for row in rows]
    for expected in ("pages/s, 1 client(s)", "pages/s, 3 client(s)", "latency p50 ms, 3 client(s)",
                     "latency p99 ms, 3 client(s)", "frames/s delivered, 3 client(s)", "peak RSS MB, 1 client(s)",
                     "RSS cost MB of 20 idle clients", "extraction MB/s, generated pages",
                     "CPU ms per page, 3 client(s)", "fan-out CPU us per frame, 3 vs 1 client(s)"):  # fmt: skip
        assert expected in metrics, metrics
    for row in rows:
        assert len(row) == width and all(row), row
        # linkcast's own figure is always measured; a difference of two CPU readings may come out negative on a tiny run
        assert row[1].replace(",", "").replace(".", "").removeprefix("-").isdigit(), row

    assert "### The CPU a page behind 20x the prototype" in markdown
    results = json.loads((tmp_path / "results.json").read_text())
    for system in ("linkcast", "prototype"):
        for figures in results[system].values():
            assert figures["crawl_complete"] and figures["latency_complete"], (system, figures)
            assert figures["pages"] == 20
            assert figures["driver_cpu_ms_per_page"] > 0  # the driver PUT and read every page of the crawl
            assert figures["site_cpu_ms_per_page"] >= 0  # the site's CPU, in psutil's 10 ms ticks
    assert {s["pages"] for s in results["scrapy"].values()} == {20}
    assert results["idle"]["linkcast"]["connected"] == 20
    assert plot.read_bytes().startswith(b"\x89PNG")
