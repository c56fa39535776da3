"""Fixtures that start real servers on loopback: a local site to scrape and the linkcast service itself."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.support.feed_fixtures import feed_site, websub_hub
from tests.support.redis import own_redis, redis_prefix, redis_url
from tests.support.service import Service
from tests.support.site import LocalSite

# For every test directory: a Redis (or a skip), a redis-server of the test's own, and a key prefix per test; a feed
# site and a WebSub hub.
__all__ = ["feed_site", "own_redis", "redis_prefix", "redis_url", "websub_hub"]


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
