"""Explore with random SIGKILLs beyond the suite's one seed: ``python -m scripts.chaos_kills [sqlite|redis] SEED...``
(from the repository root, after ``make .venv/.installed-test``; Redis at 127.0.0.1:6379 db 15 for ``redis``).

Each seed runs tests/durability/chaos.py's scenario with ``--kills`` kills (default 6) and prints the faults found.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import uuid
from pathlib import Path

from tests.durability.chaos import run_redis, run_sqlite


async def one(backend: str, seed: int, kills: int, pace: float) -> bool:
    tmp = Path(tempfile.mkdtemp(prefix=f"chaos-{backend}-{seed}-"))
    if backend == "sqlite":
        faults, done = await run_sqlite(tmp, seed, kills, pace)
    else:
        faults, done = await run_redis(tmp, seed, kills, "redis://127.0.0.1:6379/15", f"chaos-{uuid.uuid4().hex}", pace)
    print(f"{backend} seed={seed} kills={done} dir={tmp}: {'OK' if not faults else f'{len(faults)} FAULTS'}")
    for fault in faults:
        print("   ", fault[:3000])
    return not faults


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("backend", choices=("sqlite", "redis"))
    parser.add_argument("seeds", type=int, nargs="+")
    parser.add_argument("--kills", type=int, default=6)
    parser.add_argument("--pace", type=float, default=1.2, help="kills come within this many seconds of each other")
    args = parser.parse_args()
    results = [asyncio.run(one(args.backend, seed, args.kills, args.pace)) for seed in args.seeds]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
