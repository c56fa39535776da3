"""What watching many feeds costs one ``linkcast serve``: RSS, CPU while idle, and store bytes, each per feed.

For each store (SQLite in a scratch folder; Redis on a ``redis-server`` of its own, so that ``used_memory`` counts
linkcast's keys and nobody else's), three fresh processes in turn, every flag at its default but loopback access:

1. **empty**: RSS once quiet, CPU over the idle window; then the store's size.
2. **loaded**: every feed imported by OPML (``POST /feeds/import``, 1,000 a request) and polled once (each a 200 with
   five entries, which the store keeps: the seen-set and the entries list), at the normal intervals after that
   (``--feed-default-interval`` 3,600 s, jittered): RSS once quiet; then the store's size.
3. **restarted** on that store, every feed scheduled and none due: RSS once quiet and CPU over the idle window, what
   a long-running service watching them costs at rest.

Bytes a feed: (restarted RSS - empty RSS) / feeds, and (loaded store - empty store) / feeds. SQLite's size is the
database file with its WAL after a clean stop, with the share of each table and index (``dbstat``).
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import redis
from tests.support.memory import memory_bytes
from tests.support.redis import RedisServer
from tests.support.service import Service

from bench.feed_farm import RunningFarm
from bench.processes import cpu_seconds
from linkcast.feeds.opml import OpmlFeed, export_opml

IMPORT_BATCH = 1000
QUIET_CPU_SHARE = 0.05  # of a core, over half a second: the service has finished what it was doing
QUIET_TIMEOUT = 120.0


async def import_feeds(session: aiohttp.ClientSession, base_url: str, urls: list[str], timeout: float) -> None:
    """Watch every URL, ``IMPORT_BATCH`` at a time by OPML; every outline must be accepted."""
    for first in range(0, len(urls), IMPORT_BATCH):
        batch = urls[first : first + IMPORT_BATCH]
        document = export_opml([OpmlFeed(url, f"Feed {first + k}", None) for k, url in enumerate(batch)], "bench")
        async with session.post(
            f"{base_url}/feeds/import", data=document, timeout=aiohttp.ClientTimeout(total=timeout)
        ) as response:
            answer = await response.json()
            assert response.status == 200, answer
        refused = [result for result in answer["results"] if result.get("status") != "accepted"]
        assert not refused and not answer["skipped"], (refused[:3], answer["skipped"][:3])


async def wait_polled(farm: RunningFarm, before: dict[str, int], feeds: int, timeout: float = 600.0) -> None:
    """Until every feed has been polled once since ``before``: each unchanging feed has given its ``first`` 200, and
    the farm has answered at least one request a feed."""
    unchanging = farm.unchanging(feeds)
    deadline = time.monotonic() + timeout
    while True:
        now = await farm.counts()
        if now["first"] - before["first"] >= unchanging and sum(now.values()) - sum(before.values()) >= feeds:
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"{feeds} feeds not all polled within {timeout} s: {now} (from {before})")
        await asyncio.sleep(0.2)


async def wait_quiet(pid: int) -> bool:
    """Until ``pid`` uses under ``QUIET_CPU_SHARE`` of a core over half a second; False if it never does."""
    deadline = time.monotonic() + QUIET_TIMEOUT
    while time.monotonic() < deadline:
        before = cpu_seconds(pid)
        await asyncio.sleep(0.5)
        if cpu_seconds(pid) - before < QUIET_CPU_SHARE * 0.5:
            return True
    return False


async def idle_cpu_per_minute(pid: int, seconds: float) -> float:
    before = cpu_seconds(pid)
    await asyncio.sleep(seconds)
    return (cpu_seconds(pid) - before) * 60 / seconds


def sqlite_size(path: Path) -> int:
    return sum(p.stat().st_size for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists())


def sqlite_tables(path: Path) -> dict[str, int]:
    """Bytes of each table and index, largest first."""
    with sqlite3.connect(path) as connection:
        rows = connection.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name ORDER BY 2 DESC").fetchall()
    return {str(name): int(size) for name, size in rows}


def redis_used_memory(url: str) -> int:
    with redis.Redis.from_url(url) as client:
        return int(client.info("memory")["used_memory"])


class Phases:
    """Fresh ``linkcast serve`` processes on one store, one after another."""

    def __init__(self, store: str, scratch: Path, name: str) -> None:
        self.store, self.scratch, self.name = store, scratch, name

    async def start(self) -> Service:
        service = Service("--allow-private-networks", "--rate-limit", "0", "--max-request-bytes", str(16 * 1024 * 1024),
                          store=self.store, log_path=self.scratch / f"serve-scale-{self.name}.log")  # fmt: skip
        await service.start()
        return service


async def measure_store(
    farm: RunningFarm, urls: list[str], idle_seconds: float, store: str, size: Callable[[], int], scratch: Path,
    name: str,
) -> dict[str, Any]:  # fmt: skip
    phases = Phases(store, scratch, name)
    figures: dict[str, Any] = {"quiet": True}

    async def settled(service: Service) -> int:
        assert service.process is not None
        figures["quiet"] = await wait_quiet(service.process.pid) and figures["quiet"]
        return service.process.pid

    service = await phases.start()
    try:
        pid = await settled(service)
        rss_empty = memory_bytes(pid, "VmRSS")
        cpu_empty = await idle_cpu_per_minute(pid, idle_seconds)
    finally:
        service.stop()
    size_empty = size()

    service = await phases.start()
    try:
        before = await farm.counts()
        async with aiohttp.ClientSession() as session:
            await import_feeds(session, service.base_url, urls, 600.0)
        await wait_polled(farm, before, len(urls))
        after = await farm.counts()
        polled = sum(after.values()) - sum(before.values())
        pid = await settled(service)
        rss_loaded = memory_bytes(pid, "VmRSS")
    finally:
        service.stop()
    size_loaded = size()

    service = await phases.start()
    try:
        pid = await settled(service)
        rss_restarted = memory_bytes(pid, "VmRSS")
        cpu_loaded = await idle_cpu_per_minute(pid, idle_seconds)
    finally:
        service.stop()
    feeds = len(urls)
    figures.update(
        feeds=feeds,
        polled=polled,
        rss_empty_mb=round(rss_empty / 1e6, 1),
        rss_loaded_mb=round(rss_loaded / 1e6, 1),
        rss_restarted_mb=round(rss_restarted / 1e6, 1),
        rss_bytes_per_feed=round((rss_restarted - rss_empty) / feeds),
        rss_bytes_per_feed_after_polling=round((rss_loaded - rss_empty) / feeds),
        idle_cpu_s_per_min_empty=round(cpu_empty, 3),
        idle_cpu_s_per_min_loaded=round(cpu_loaded, 3),
        store_bytes_empty=size_empty,
        store_bytes_loaded=size_loaded,
        store_bytes_per_feed=round((size_loaded - size_empty) / feeds),
    )
    return figures


async def measure_scale(
    farm: RunningFarm, urls: list[str], idle_seconds: float, with_redis: bool, scratch: Path,
    say: Callable[[str], None],
) -> dict[str, Any]:  # fmt: skip
    database = scratch / "scale.db"
    say("scale on SQLite")
    results = {
        "sqlite": await measure_store(
            farm, urls, idle_seconds, f"sqlite:///{database}", lambda: sqlite_size(database), scratch, "sqlite"
        )
    }
    results["sqlite"]["tables"] = sqlite_tables(database)
    if with_redis:
        say("scale on Redis (a redis-server of its own)")
        server = RedisServer()
        await asyncio.to_thread(server.start)
        try:
            results["redis"] = await measure_store(
                farm, urls, idle_seconds, server.url, lambda: redis_used_memory(server.url), scratch, "redis"
            )
        finally:
            server.remove()
    return results
