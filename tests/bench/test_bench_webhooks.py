"""bench_webhooks runs end to end at a tiny size and writes every figure (how fast is the bench's business, not
this)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_bench_webhooks_reports_every_figure(tmp_path: Path) -> None:
    out = tmp_path / "webhooks.json"
    done = subprocess.run(
        [sys.executable, "-m", "bench.bench_webhooks", "--events", "20", "--endpoints", "2", "--latency-events", "5",
         "--interval", "0", "--json", str(out)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    figures = json.loads(out.read_text())
    assert figures["events"] == 20 and figures["endpoints"] == 2
    assert figures["one_endpoint_per_s"] > 0 and figures["all_endpoints_per_s"] > 0
    assert figures["baseline_bare_client_per_s"] > 0
    latency = figures["extra_latency_over_websocket"]
    assert latency["p50_ms"] <= latency["p99_ms"] <= latency["max_ms"]
