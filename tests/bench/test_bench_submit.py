"""bench_submit runs end to end at a tiny size on both stores and writes every figure (how fast is the bench's
business, not this); it stops with an error if the service refused any URL, so a run that passes submitted them all."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_submit_measures_puts_and_batches_on_sqlite_and_redis(tmp_path: Path, redis_url: str) -> None:
    out = tmp_path / "submit.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.bench_submit", "--urls", "1000", "--rounds", "1", "--put-concurrency", "4",
         "--redis", redis_url, "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    figures = json.loads(out.read_text())
    for store in ("sqlite", "redis"):
        for mode in ("put", "batch100", "batch1000"):
            assert figures[store][mode]["submitted_per_second"] > 0, (store, mode, figures)
        assert figures[store]["batch1000_over_put"] > 0, figures
    assert set(figures["redis_over_sqlite"]) == {"put", "batch100", "batch1000"}
