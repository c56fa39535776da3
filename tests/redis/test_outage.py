"""Redis going away in the middle of a job: the worker outlives the outage and the job still ends in one result."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path
from typing import Any

import pytest
import redis
import websockets
from aiohttp import web

from linkcast.core.events import CLOSE_TRY_AGAIN_LATER
from linkcast.settings import Settings
from linkcast.store.redis import RedisStore
from tests.redis.deployment import WorkerProcess
from tests.support.redis import RedisServer
from tests.support.service import Service, receive_until, terminal_for
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


async def result_heard_live(service: Service, request_id: str, url: str, timeout: float = 40.0) -> dict[str, Any]:
    """Submit once, with a client listening (``since=0``, reconnecting when the hub closes it), and return the
    request's terminal event as the client heard it."""
    submitted = False
    async with asyncio.timeout(timeout):
        while True:
            try:
                async with service.connect("since=0") as ws:
                    if not submitted:
                        assert (await service.put(request_id, url))[0] == 201
                        submitted = True
                    frames = await receive_until(ws, lambda fs: request_id in terminal_for(fs, {request_id}), timeout)
                    return terminal_for(frames, {request_id})[request_id]
            except websockets.ConnectionClosed as closed:
                assert closed.rcvd is not None and closed.rcvd.code == CLOSE_TRY_AGAIN_LATER, closed


async def test_clients_hear_new_results_after_redis_restarts_without_its_data(site: LocalSite, tmp_path: Path) -> None:
    """The hub went on waiting for events past the last id it had delivered, which the emptied log would only reach
    after as many new events: every client heard nothing, and /healthz said ok."""
    require(shutil.which("redis-server") is not None, "this test restarts its own redis-server: none found")
    server = RedisServer()  # no persistence: a restart loses every key, the event counter included
    server.start()
    service = Service(
        "--workers", "2", "--redis-prefix", PREFIX, "--allow-private-networks", "--rate-limit", "0",
        store=server.url, log_path=tmp_path / "serve.log",
    )  # fmt: skip
    try:
        await service.start()
        for n in range(5):
            before = await result_heard_live(service, f"a{n}", site.page(f"/a{n}", f"<a href='/x{n}'>x</a>"))
        server.stop()
        server.start()
        await service.wait_healthy()
        after = await result_heard_live(service, "b", site.page("/b", "<a href='/y'>y</a>"))
        assert after["type"] == "result" and after["links"] == [site.url("/y")]
        assert after["id"] < before["id"], "the ids started over"
        with pytest.raises(websockets.InvalidStatus) as refused:  # an id from before the reset says so
            async with service.connect(f"since={before['id']}"):
                pass
        assert refused.value.response.status_code == 400
    finally:
        service.stop()
        server.remove()
    assert "Traceback" not in (tmp_path / "serve.log").read_text()


async def test_redis_at_maxmemory_refuses_with_store_full_and_the_replica_recovers(tmp_path: Path) -> None:
    """redis-py raises an OOM reply as OutOfMemoryError with "OOM" taken off its message: Redis at maxmemory was
    answered 503 store_unavailable ("the store failed") instead of 507 store_full."""
    require(shutil.which("redis-server") is not None, "this test sets its own redis-server's maxmemory: none found")
    server = RedisServer()
    server.start()
    replica = Service("--workers", "0", "--redis-prefix", PREFIX, store=server.url, log_path=tmp_path / "replica.log")
    try:
        await replica.start()
        with redis.Redis.from_url(server.url) as client:
            client.config_set("maxmemory-policy", "noeviction")
            client.config_set("maxmemory", 1)  # below what Redis holds already: every write that adds data is refused
        status, body = await replica.put("a", "https://example.com/")
        assert (status, body["error"]["code"]) == (507, "store_full"), body
        status, health = await replica.call("GET", "/healthz")
        assert (status, health["status"], health["error"]["code"]) == (503, "degraded", "store_full"), health
        with redis.Redis.from_url(server.url) as client:
            client.config_set("maxmemory", 0)
        # Writing nothing of its own, the replica stayed degraded for good: its /healthz now tries a write itself.
        async with asyncio.timeout(10):
            while (await replica.call("GET", "/healthz"))[0] != 200:
                await asyncio.sleep(0.1)
        assert (await replica.put("a", "https://example.com/"))[0] == 201
    finally:
        replica.stop()
        server.remove()


async def put_until_accepted(service: Service, request_id: str, url: str, timeout: float = 30.0) -> None:
    """PUT until 201: Redis may not be back yet (503)."""
    async with asyncio.timeout(timeout):
        while (await service.put(request_id, url))[0] != 201:
            await asyncio.sleep(0.05)


async def test_a_client_connected_across_a_reset_under_new_work_is_told_and_misses_nothing(
    site: LocalSite, tmp_path: Path
) -> None:
    """The reset was noticed only when a read of the log found nothing new and the newest id was behind the hub's:
    work submitted as Redis came back numbered its events past the hub's position before it ever looked, so it never
    did. A client connected across the reset heard none of the events up to the old position, the terminal ones of
    the first new requests among them, and was never told (nor was one that connected meanwhile with since=0)."""
    require(shutil.which("redis-server") is not None, "this test restarts its own redis-server: none found")
    server = RedisServer()  # no persistence: a restart loses every key, the event counter included
    server.start()
    service = Service(
        "--workers", "4", "--redis-prefix", PREFIX, "--allow-private-networks", "--rate-limit", "0",
        store=server.url, log_path=tmp_path / "serve.log",
    )  # fmt: skip
    before = {f"a{n}": site.page(f"/a{n}", "<a href='/x'>x</a>") for n in range(10)}
    after = {f"b{n}": site.page(f"/b{n}", "<a href='/y'>y</a>") for n in range(15)}
    try:
        await service.start()
        async with service.connect("since=0") as ws:
            for request_id, url in before.items():
                assert (await service.put(request_id, url))[0] == 201
            await receive_until(ws, lambda fs: len(terminal_for(fs, set(before))) == len(before))
            server.stop()
            server.start()
            for request_id, url in after.items():  # some 45 events, past the 30 the hub had delivered
                await put_until_accepted(service, request_id, url)
            try:
                await receive_until(ws, lambda fs: len(terminal_for(fs, set(after))) == len(after), 20)
            except websockets.ConnectionClosed as closed:  # told: it starts over, as its close reason says
                assert closed.rcvd is not None and closed.rcvd.code == CLOSE_TRY_AGAIN_LATER, closed
                async with service.connect("since=0") as again:
                    await receive_until(again, lambda fs: len(terminal_for(fs, set(after))) == len(after))
    finally:
        service.stop()
        server.remove()
    assert "Traceback" not in (tmp_path / "serve.log").read_text()
