"""bench_crawl runs end to end at a tiny size and reports every figure: each crawler crawled every page of both sites
(robots on, to the depth that covers them), the worker processes on Redis crawled them all, the memory crawl held
every URL queued and then visited them all, and the single requests ended in results. How fast anything was is the
bench's business, not this test's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.bench.test_bench_runs import require_modules

ROOT = Path(__file__).resolve().parents[2]
TINY = [
    "--pages", "30", "--real-mb", "0.2", "--repeats", "1", "--queued", "300", "--per-hub", "100",
    "--fairness-samples", "5", "--fairness-interval", "0", "--site-processes", "1", "--timeout", "60",
]  # fmt: skip


def test_bench_crawl_reports_every_figure(tmp_path: Path, redis_url: str) -> None:
    require_modules("scrapy")
    out = tmp_path / "crawl.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.bench_crawl", *TINY, "--redis", redis_url, "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    figures = json.loads(out.read_text())
    for name, site in figures["crawl"].items():
        assert site["reachable"] == site["pages"], name  # one seed reaches every page within the depth given
        assert site["linkcast"]["pages"] == site["pages"] and site["linkcast"]["failed"] == 0, name
        assert site["scrapy"]["pages"] == site["pages"] and site["scrapy"]["robots_fetched"] == 1, name
        assert site["ceiling"]["pages_per_second"] > 0, name
    for processes in ("1", "2"):
        assert figures["workers"][processes]["pages"] == figures["crawl"]["generated"]["pages"]
    for store in ("sqlite", "redis"):
        memory = figures["memory"][store]
        assert memory["queued_counts"]["queued"] >= 300
        assert memory["done_counts"]["fetched"] == 1 + 3 + 300 and memory["done_counts"]["queued"] == 0
        assert memory["bytes_per_queued_url"]["total"] > 0 and memory["bytes_per_visited_url"]["total"] > 0
        assert memory["peak_rss_mb"] >= memory["rss_before_mb"] > 0
    sqlite = figures["memory"]["sqlite"]
    idle, busy = sqlite["idle_single"], sqlite["busy_single"]
    assert len(idle["seconds"]) == len(idle["started"]) == 5 and idle["errors"] == 0
    assert busy["seconds"] and busy["errors"] == 0
    assert "| generated (30 pages" in done.stdout and "| p50 ms, PUT sent to result frame |" in done.stdout
