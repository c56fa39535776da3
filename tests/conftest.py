"""Fixtures that start real servers on loopback: a local site to scrape and the linkcast service itself."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.redis import redis_prefix, redis_url
from tests.support.service import Service
from tests.support.site import LocalSite

__all__ = ["redis_prefix", "redis_url"]  # a Redis (or a skip) and a key prefix per test, for every test directory


@pytest.fixture
async def site() -> AsyncIterator[LocalSite]:
    async with LocalSite() as local:
        yield local


@pytest.fixture
async def service(tmp_path: Path) -> AsyncIterator[Service]:
    """``linkcast serve`` on SQLite in a temporary folder, allowed to fetch loopback (the local site)."""
    running = Service(
        "--allow-private-networks", store=f"sqlite:///{tmp_path}/linkcast.db", log_path=tmp_path / "serve.log"
    )
    await running.start()
    yield running
    running.stop()
