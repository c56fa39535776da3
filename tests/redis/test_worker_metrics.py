"""A worker process (``linkcast worker --metrics-port``) serves its own ``/metrics`` and ``/healthz``: what it
fetched is counted where an operator can scrape it."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

import aiohttp

from linkcast.settings import Settings
from linkcast.store.redis import RedisStore
from tests.redis.deployment import WorkerProcess
from tests.support.ports import free_port
from tests.support.site import LocalSite


async def test_a_worker_process_exports_what_it_fetched(
    site: LocalSite, redis_url: str, redis_prefix: str, tmp_path: Path
) -> None:
    port = free_port()
    worker = WorkerProcess(
        "--workers", "1", "--redis-prefix", redis_prefix, "--allow-private-networks", "--metrics-port", str(port),
        "--host", "127.0.0.1", store=redis_url, log_path=tmp_path / "worker.log",
    )  # fmt: skip
    store = RedisStore(Settings(store=redis_url, redis_prefix=redis_prefix))
    await store.open()
    try:
        await worker.start()
        await store.submit("a", site.page("/a", '<a href="/b">b</a>'))
        async with aiohttp.ClientSession() as session:
            async with asyncio.timeout(30):
                while True:  # the port opens once the worker is ready; the count once it has fetched the page
                    with contextlib.suppress(aiohttp.ClientConnectionError):
                        async with session.get(f"http://127.0.0.1:{port}/metrics") as response:
                            if 'linkcast_fetches_total{outcome="ok"} 1.0' in await response.text():
                                break
                    await asyncio.sleep(0.1)
            async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                assert response.status == 200 and (await response.json())["status"] == "ok"
            async with session.get(f"http://127.0.0.1:{port}/urls/a") as response:
                assert response.status == 404  # a worker serves health and metrics only
    finally:
        await worker.stop()
        await store.close()
