"""bench_feed_polls runs end to end at a tiny size and writes every figure (how fast is the bench's business, not
this): both pollers polled, at steady state (no first polls in the window, about 90% of answers 304), and the scale
figures of the SQLite store were all taken with every feed polled once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
FEEDS = 200


def test_bench_feed_polls_reports_polls_per_second_and_the_cost_of_a_feed(tmp_path: Path) -> None:
    out = tmp_path / "feed_polls.json"
    command = [sys.executable, "-m", "bench.bench_feed_polls", "--feeds", str(FEEDS), "--hosts", "10", "--workers",
               "8", "--seconds", "1", "--rounds", "1", "--idle-seconds", "0.5", "--farm-processes", "1",
               "--json", str(out)]  # fmt: skip
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    figures = json.loads(out.read_text())
    (round_figures,) = figures["rounds"]
    for poller in ("linkcast", "bare"):
        window = round_figures[poller]
        assert window["polls"] > 0 and window["first_answers"] == 0 and window["other_answers"] == 0
        assert 0.8 <= window["share_304"] <= 0.95, window
    assert round_figures["ratio"] > 0
    scale = figures["scale"]["sqlite"]
    assert scale["polled"] >= FEEDS
    assert scale["rss_empty_mb"] > 0 and scale["rss_restarted_mb"] > 0
    assert scale["store_bytes_loaded"] > scale["store_bytes_empty"]
    assert {"feeds", "feed_seen", "jobs"} <= set(scale["tables"])
    assert "linkcast / bare" in done.stdout
