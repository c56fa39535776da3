"""bench_robots runs end to end at a tiny size and writes every figure (how fast is the bench's business, not this)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_robots_reports_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "robots.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.bench_robots", "--lengths", "100,1000", "--repeats", "1",
         "--regex-budget", "0.5", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    figures = json.loads(out.read_text())
    assert set(figures["linkcast"]) == {"100", "1000"}
    assert figures["backtracking_regex"] and figures["everyday"]["checks_per_second_200_rules"] > 0
