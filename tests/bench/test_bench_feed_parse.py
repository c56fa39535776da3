"""bench_feed_parse runs end to end on the corpus in one round and writes every figure (the figures are the bench's
business, not this test's)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.bench.test_bench_runs import require_modules

ROOT = Path(__file__).resolve().parents[2]


def test_bench_feed_parse_reports_speed_agreement_and_the_big_feed(tmp_path: Path) -> None:
    require_modules("feedparser")  # the reference it is timed and checked against
    out = tmp_path / "feeds.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.bench_feed_parse", "--rounds", "1", "--big-mb", "0.2", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    figures = json.loads(out.read_text())
    assert figures["mb_per_s"]["linkcast"][0] > 0 and figures["mb_per_s"]["feedparser"][0] > 0
    agreement = figures["agreement"]
    assert agreement["feeds"] >= 10 and agreement["agree"]["entries"]["compared"] == agreement["feeds"]
    assert figures["big_feed"]["entries"] > 0
    assert "x feedparser" in done.stdout
