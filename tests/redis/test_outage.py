"""Redis going away in the middle of a job: the worker outlives the outage and the job still ends in one result."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

from aiohttp import web

from linkcast.settings import Settings
from linkcast.store.redis import RedisStore
from tests.redis.deployment import WorkerProcess
from tests.support.redis import RedisServer
from tests.support.service import Service
from tests.support.site import LocalSite
from tests.support.strict import require

PREFIX = "outage"


async def wait_for_terminal(store: RedisStore, timeout: float = 30.0) -> list[str]:
    """Tail the log until a terminal event arrives; returns the frames of every terminal event seen."""
    position, terminal = 0, []
    async with asyncio.timeout(timeout):
        while not terminal:
            for event in await store.wait_events(position, timeout=5.0):
                position = event.id
                if event.is_terminal:
                    terminal.append(event.json)
    return terminal


async def test_worker_outlives_a_redis_outage_in_the_middle_of_a_job(site: LocalSite, tmp_path: Path) -> None:
    require(shutil.which("redis-server") is not None, "this test stops and restarts its own redis-server: none found")
    server = RedisServer(persistent=True)
    server.start()
    fetching, proceed = asyncio.Event(), asyncio.Event()

    async def page(_request: web.Request) -> web.StreamResponse:
        fetching.set()
        async with asyncio.timeout(30):
            await proceed.wait()  # held until Redis is down, so that the worker cannot store the result
        return web.Response(text='<a href="/next">next</a>', content_type="text/html")

    url = site.route("/page", page)
    settings = Settings(store=server.url, redis_prefix=PREFIX, job_visibility_timeout=1.0)
    worker = WorkerProcess(
        "--workers", "1", "--redis-prefix", PREFIX, "--allow-private-networks", "--job-visibility-timeout", "1.0",
        store=server.url, log_path=tmp_path / "worker.log",
    )  # fmt: skip
    try:
        await worker.start()
        submitter = RedisStore(settings)
        await submitter.open()
        await submitter.submit("a", url)
        await submitter.close()
        async with asyncio.timeout(30):
            await fetching.wait()
        server.stop()
        proceed.set()
        # The worker could not store its result; it lives on and keeps asking for jobs (one task: it is free again).
        await worker.wait_log("taking a job failed")
        server.start()  # the same data (append-only file): the job is still pending, held by nobody alive
        store = RedisStore(settings)
        await store.open()
        try:
            [frame] = await wait_for_terminal(store)
            record = await store.get_request("a")
        finally:
            await store.close()
        assert '"type":"result"' in frame and site.url("/next") in frame
        assert record is not None and record.state == "done" and record.attempts == 2
    finally:
        await worker.stop()
        server.remove()


async def test_api_answers_503_while_redis_is_down(tmp_path: Path) -> None:
    require(shutil.which("redis-server") is not None, "this test stops its own redis-server: none found")
    server = RedisServer()
    server.start()
    replica = Service("--workers", "0", "--redis-prefix", PREFIX, store=server.url, log_path=tmp_path / "replica.log")
    try:
        await replica.start()
        server.stop()
        status, body = await replica.put("a", "https://example.com/")
        assert (status, body["error"]["code"]) == (503, "store_unavailable")
        batch = {"urls": ["https://example.com/1", "https://example.com/2"]}
        status, body = await replica.call("POST", "/urls", json=batch)  # one pipeline of scripts
        assert (status, body["error"]["code"]) == (503, "store_unavailable")
        status, body = await replica.call("GET", "/urls/a")
        assert (status, body["error"]["code"]) == (503, "store_unavailable")
    finally:
        replica.stop()
        server.remove()
