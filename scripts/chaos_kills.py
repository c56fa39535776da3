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

import redis.asyncio
from tests.durability.chaos import run_redis, run_sqlite

REDIS_URL = "redis://127.0.0.1:6379/15"


async def forget_keys(prefix: str) -> None:
    """The run's keys out of Redis (each run has a prefix of its own)."""
    client = redis.asyncio.from_url(REDIS_URL)
    try:
        async for key in client.scan_iter(match=f"{prefix}*", count=1000):
            await client.delete(key)
    finally:
        await client.aclose()


async def one(backend: str, seed: int, kills: int, pace: float) -> bool:
    tmp = Path(tempfile.mkdtemp(prefix=f"chaos-{backend}-{seed}-"))
    if backend == "sqlite":
        faults, done = await run_sqlite(tmp, seed, kills, pace)
    else:
        prefix = f"chaos-{uuid.uuid4().hex}"
        try:
            faults, done = await run_redis(tmp, seed, kills, REDIS_URL, prefix, pace)
        finally:
            await forget_keys(prefix)
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
