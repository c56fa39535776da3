"""bench_complexity runs every hostile case end to end at a tiny size; how the cost grows is the bench's figure."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bench.bench_complexity import CASES

ROOT = Path(__file__).resolve().parents[2]


def test_bench_complexity_times_every_case_at_both_sizes(tmp_path: Path) -> None:
    out = tmp_path / "complexity.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.bench_complexity", "--fraction", "0.01", "--factor", "2", "--repeats", "1",
         "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    figures = json.loads(out.read_text())
    assert [row["case"] for row in figures["cases"]] == [case.name for case in CASES]
    for row in figures["cases"]:
        small, large = row["bytes"]
        assert small < large and all(ms >= 0 for ms in row["ms"]), row
        assert (ROOT / row["test"]).is_file(), row  # each case names the test that holds its reader's answers
