"""The hostile bench's attacks on the HTTP server run end to end at a tiny scale and print every figure (figures are
not checked: timing belongs in the bench, not in pass/fail tests)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TINY = [
    "--parts", "heads,slowloris,spread", "--head-mb", "2", "--slow-levels", "40", "--one-address", "300", "--hold", "1",
    "--spread", "100", "--spread-seconds", "5",
]  # fmt: skip


def test_the_attacks_on_the_server_print_their_figures() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.bench_hostile", *TINY],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    out = done.stdout
    assert "refused (431 or closed): 4 of 4" in out, out
    assert "RSS idle / peak" in out and "/healthz after: median" in out, out
    assert "40 from 1 addresses: 40 held at most" in out, out
    assert "300 from one address: 256 held at most" in out, out
    assert "/healthz, 0-5 s: median" in out and "attacker 2 (50 connections): held at most 50" in out, out
