"""Redis out of memory (``maxmemory`` reached, ``noeviction``): every write refused with OOM. Calls are refused with
507 store_full, never a 500 or a traceback in the log, and work in flight ends once memory is raised again."""

from __future__ import annotations

import asyncio
from pathlib import Path

import redis

from tests.durability.conftest import Gate
from tests.support.crawl_site import TreeSite
from tests.support.redis import RedisServer, refuse_writes
from tests.support.service import Service, receive_until, terminal_for

LEASE_SECONDS = 1.0


async def test_a_redis_out_of_memory_is_a_clear_refusal_and_no_job_is_lost(
    tmp_path: Path, gate: Gate, own_redis: RedisServer
) -> None:
    server = own_redis
    client = redis.Redis.from_url(server.url)
    service = Service(
        "--allow-private-networks", "--workers", "2", "--job-visibility-timeout", str(LEASE_SECONDS),
        store=server.url, log_path=tmp_path / "serve.log",
    )  # fmt: skip
    try:
        await service.start()
        held = gate.page("/held", '<a href="/found">found</a>')
        assert (await service.put("held", held))[0] == 201
        async with asyncio.timeout(30):
            while gate.waiting == 0:  # the worker is fetching the page
                await asyncio.sleep(0.02)
        refuse_writes(client)
        gate.opened.set()

        other = gate.site.url("/other")
        calls = [
            ("PUT", "/urls/refused", {"url": other}),
            ("PUT", "/crawls/refused", {"url": other}),
            ("PUT", "/webhooks/refused", {"url": gate.site.url("/hook")}),
        ]
        for method, path, body in calls:
            status, answer = await service.call(method, path, json=body)
            assert (status, answer["error"]["code"]) == (507, "store_full"), (path, status, answer)
        status, health = await service.call("GET", "/healthz")
        assert (status, health["error"]["code"]) == (503, "store_full"), health

        client.config_set("maxmemory", "0")  # room again: nothing was flushed
        assert (await service.put("after", other))[0] == 201
        async with service.connect("since=0&request_id=held&request_id=after") as ws:
            frames = await receive_until(ws, lambda fs: len(terminal_for(fs, {"held", "after"})) == 2, 30)
        assert terminal_for(frames, {"held"})["held"]["links"] == [gate.site.url("/found")]
        assert [f["request_id"] for f in frames if f["type"] in ("result", "error")].count("held") == 1
    finally:
        service.stop()
        client.close()
    log = (tmp_path / "serve.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]


async def test_a_busy_service_says_degraded_while_redis_refuses_writes(tmp_path: Path, own_redis: RedisServer) -> None:
    """At maxmemory, Redis still runs the scripts that free memory before they add any (a job's end, a lease's
    renewal): a crawl's pages went on ending, and each such success cleared the refusal /healthz remembered, so a
    busy service said ok while every submission was refused with 507."""
    server = own_redis
    client = redis.Redis.from_url(server.url)
    site = TreeSite(200, delay=0.2)
    await site.start()
    service = Service(
        "--allow-private-networks", "--rate-limit", "0", "--workers", "4", "--job-visibility-timeout", "2",
        store=server.url, log_path=tmp_path / "serve.log",
    )  # fmt: skip
    try:
        await service.start()
        crawl = {"url": site.url("/p/0"), "max_depth": 20, "max_pages": 1000, "respect_robots": False}
        async with service.connect("request_id=c", close_timeout=0.1) as ws:
            assert (await service.call("PUT", "/crawls/c", json=crawl))[0] == 201
            await receive_until(ws, lambda fs: sum(f["type"] == "page" for f in fs) >= 3)
            refuse_writes(client)
            status, answer = await service.put("refused", site.url("/p/1"))
            assert (status, answer["error"]["code"]) == (507, "store_full"), answer
            await receive_until(ws, lambda fs: sum(f["type"] == "page" for f in fs) >= 3)  # ended at maxmemory
        status, health = await service.call("GET", "/healthz")
        assert (status, health.get("error", {}).get("code")) == (503, "store_full"), health
        client.config_set("maxmemory", "0")
        async with asyncio.timeout(10):
            while (await service.call("GET", "/healthz"))[0] != 200:
                await asyncio.sleep(0.1)
        assert (await service.put("after", site.url("/p/1")))[0] == 201
    finally:
        service.stop()
        client.close()
        await site.stop()
    log = (tmp_path / "serve.log").read_text(errors="replace")
    assert "Traceback" not in log, log[-3000:]
