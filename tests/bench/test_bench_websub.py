"""bench_websub runs end to end at a tiny size and writes every figure (how fast is the bench's business, not this)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_websub_reports_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "websub.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.bench_websub", "--pushes", "5", "--interval", "0", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    figures = json.loads(out.read_text())
    assert figures["pushes"] == 5
    for part in ("post_to_202", "post_to_frame"):
        assert 0 < figures[part]["p50_ms"] <= figures[part]["p99_ms"] <= figures[part]["max_ms"]
