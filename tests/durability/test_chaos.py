"""Random SIGKILLs, with a fixed seed, while a crawl, single URLs, feeds and webhooks all run at once on SQLite:
nothing accepted is lost, nothing is done twice that must not be, and the service always starts again with no
traceback in its log. ``tests/durability/chaos.py`` has the scenario and its checks; ``scripts/chaos_kills.py`` runs
it with other seeds, more kills, and on Redis (workers killed among a ``--workers 0`` deployment's)."""

from __future__ import annotations

from pathlib import Path

from tests.durability.chaos import run_sqlite

SEED = 1  # its kills: three while running, three while draining after SIGTERM
KILLS = 6


async def test_random_kills_lose_nothing_and_repeat_nothing(tmp_path: Path) -> None:
    faults, kills = await run_sqlite(tmp_path, SEED, KILLS)
    assert faults == [], f"after kills {kills}"
