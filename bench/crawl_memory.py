"""A crawl with ``--queued`` URLs queued at once: what the service's memory and the store pay for it, and how long
another host's single request waits meanwhile (fairness).

On the tree site (``bench.tree_site``), a crawl of depth 2 admits every leaf as soon as the hubs are read, and the
leaves hold until released, so the crawl sits with all of them queued:

1. before the crawl: the service's RSS and the store's size by part (SQLite: ``dbstat``, bytes of each table and
   index; Redis: ``MEMORY USAGE`` of each key under the deployment's prefix, summed by kind of key); with
   ``fairness``, single requests for host B's page on the idle service (``PUT /urls/<id>`` sent to its ``result``
   frame, one at a time);
2. every leaf queued: the store's size again; its growth over the leaves is the bytes a queued URL costs (its job,
   its entry in the visited set, and its share of its hub's page event, which lists it);
3. the leaves released: the crawl runs through them, host B's single requests are timed again while it does, and once
   ``crawl.done`` the store's growth over every URL the crawl ended is the bytes a visited URL costs (its visited-set
   entry and its ``page`` event, kept twice: in the log and in the crawl's pages). The peak RSS (``VmHWM``) of the
   service over the whole crawl says whether its memory stayed bounded.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
import uuid
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aiohttp
import redis.asyncio as aioredis
from tests.support.memory import memory_bytes
from tests.support.ports import free_port

from bench.crawl_runs import Deployment, crawl_state, start_crawl, wait_done
from bench.driver import TERMINAL, frame_head
from bench.processes import PYTHON, Process
from bench.site import SiteShape, render_page


def sqlite_parts(path: Path) -> dict[str, int]:
    """Bytes of each table and index of the SQLite file (``dbstat``), read through a read-only connection."""
    connection = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        rows = connection.execute("SELECT name, SUM(pgsize) FROM dbstat GROUP BY name").fetchall()
    finally:
        connection.close()
    return {str(name): int(size) for name, size in rows}


def key_kind(key: bytes, prefix: str) -> str:
    """What a Redis key holds, its ids left out: ``job``, ``crawl:seen``, ``hq``, ``events``..."""
    parts = key.decode(errors="replace").removeprefix(prefix + ":").split(":")
    if parts[0] in ("crawl", "feed") and len(parts) > 2:
        return f"{parts[0]}:{parts[-1]}"
    return parts[0]


async def redis_parts(store_url: str, prefix: str) -> dict[str, int]:
    """Bytes of the deployment's keys by kind (``MEMORY USAGE`` of every key, all of its elements counted)."""
    client = aioredis.Redis.from_url(store_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=5000)]
        sizes: Counter[str] = Counter()
        for start in range(0, len(keys), 2000):
            batch = keys[start : start + 2000]
            async with client.pipeline(transaction=False) as pipe:
                for key in batch:
                    pipe.memory_usage(key, samples=0)
                for key, size in zip(batch, await pipe.execute(), strict=True):
                    sizes[key_kind(key, prefix)] += int(size or 0)
        return dict(sizes)
    finally:
        await client.aclose()


# The single requests timed during the crawl are not the crawl's: their records are left out of its bytes (their few
# events stay in the log's count, a fraction of a per cent of the crawl's).
NOT_THE_CRAWL = ("requests", "requests_finished", "requests_by_state", "req", "finished")


def growth(after: dict[str, int], before: dict[str, int], count: int) -> dict[str, float]:
    """Bytes per URL of each part that grew, and ``total``."""
    grown = {name: (after.get(name, 0) - before.get(name, 0)) / count for name in after if name not in NOT_THE_CRAWL}
    parts = {name: round(size, 1) for name, size in sorted(grown.items(), key=lambda kv: -kv[1]) if size >= 0.5}
    return {**parts, "total": round(sum(grown.values()), 1)}


async def single_request(
    session: aiohttp.ClientSession, deployment: Deployment, url: str, request_id: str, timeout: float
) -> tuple[float, str, dict[str, float]]:
    """Seconds from ``PUT /urls/<id>`` sent to the request's terminal frame, the frame's type, and when (seconds
    from the same start) the ``PUT`` was answered and the ``started`` frame came (a worker took the job), and how long
    its fetch and extraction took (the result's ``timings``): where the time went."""
    ws_url = f"ws://127.0.0.1:{deployment.port}/scraped_urls?since=0&request_id={request_id}"
    async with session.ws_connect(ws_url) as ws, asyncio.timeout(timeout):
        began = time.perf_counter()
        async with session.put(f"{deployment.base_url}/urls/{request_id}", json={"url": url}) as response:
            if response.status != 201:
                raise RuntimeError(f"PUT /urls/{request_id}: {response.status} {await response.text()}")
        phases = {"answered": time.perf_counter() - began}
        async for message in ws:
            kind, _ = frame_head(message.data)
            if kind == "started":
                phases["started"] = time.perf_counter() - began
            if kind in TERMINAL:
                arrived = time.perf_counter() - began
                event = json.loads(message.data)
                phases["fetch"] = event.get("timings", {}).get("fetch_ms", 0.0) / 1000
                phases["extract"] = event.get("timings", {}).get("extract_ms", 0.0) / 1000
                return arrived, kind, phases
    raise RuntimeError(f"the stream of {request_id} closed before its result")


async def sample_singles(
    deployment: Deployment, url: str, name: str, count: int, interval: float, go_on: Callable[[], bool]
) -> dict[str, Any]:
    """Up to ``count`` single requests one after the other, ``interval`` apart, while ``go_on()``: the seconds of
    those that ended in a result (``seconds``, and the ``answered`` and ``started`` times of each), and how many
    ended in an error (``errors``)."""
    samples: dict[str, Any] = {
        "seconds": [],
        "answered": [],
        "started": [],
        "stored": [],
        "fetch": [],
        "extract": [],
        "errors": 0,
    }
    async with aiohttp.ClientSession() as session:
        for n in range(count):
            if not go_on():
                break
            took, kind, phases = await single_request(session, deployment, url, f"{name}-{n}", 30.0)
            if kind == "result":
                samples["seconds"].append(took)
                for phase, at in phases.items():
                    samples[phase].append(at)
            else:
                samples["errors"] += 1
            await asyncio.sleep(interval)
    return samples


class TreeSite:
    """The ``bench.tree_site`` processes: host A's tree on one, host B's page on another (as another host would be)."""

    def __init__(self, hubs: int, per_hub: int, workdir: Path) -> None:
        self.port, self.other_port = free_port(), free_port()
        self.hubs, self.per_hub = hubs, per_hub
        page = workdir / "other-page.html"
        page.write_bytes(render_page(0, f"http://127.0.0.1:{self.other_port}", SiteShape()))
        command = [PYTHON, "-m", "bench.tree_site", "--hubs", str(hubs), "--per-hub", str(per_hub), "--page", str(page)]
        self.processes = [
            Process(f"tree-site-{name}", [*command, "--port", str(port)], workdir / f"tree-site-{name}.log")
            for name, port in (("a", self.port), ("b", self.other_port))
        ]

    @property
    def seed(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    @property
    def other_page(self) -> str:
        return f"http://127.0.0.1:{self.other_port}/page.html"

    async def __aenter__(self) -> TreeSite:
        for process in self.processes:
            process.start()
        try:
            await self.processes[0].ready_http(self.seed)
            await self.processes[1].ready_http(self.other_page)
        except BaseException:
            await self.__aexit__()
            raise
        return self

    async def __aexit__(self, *_exc: object) -> None:
        for process in self.processes:
            process.stop()

    async def release(self) -> None:
        await self._post("/release")

    async def hold(self) -> None:
        await self._post("/hold")

    async def _post(self, path: str) -> None:
        async with aiohttp.ClientSession() as session, session.post(f"http://127.0.0.1:{self.port}{path}") as r:
            r.raise_for_status()


async def wait_all_queued(deployment: Deployment, crawl_id: str, site: TreeSite, timeout: float) -> dict[str, Any]:
    """Poll the crawl until the seed and hubs are read and every leaf is queued; its state then."""
    leaves = site.hubs * site.per_hub
    async with aiohttp.ClientSession() as session, asyncio.timeout(timeout):
        while True:
            state = await crawl_state(session, deployment.base_url, crawl_id)
            counts = state["counts"]
            if counts["fetched"] + counts["failed"] >= 1 + site.hubs and counts["queued"] >= leaves:
                return state
            await asyncio.sleep(0.2)


async def measure_queued(
    store_url: str, workers: int, site: TreeSite, workdir: Path, fairness: tuple[int, float] | None, timeout: float
) -> dict[str, Any]:
    """One deployment (``store_url``: SQLite or Redis), one crawl of the tree site; every figure of the module doc."""
    is_redis = store_url.startswith("redis")
    prefix = f"linkcast-crawlbench-{uuid.uuid4().hex[:8]}" if is_redis else ""
    db = Path(store_url.removeprefix("sqlite:///")) if not is_redis else None

    async def parts() -> dict[str, int]:
        if db is None:
            return await redis_parts(store_url, prefix)
        return await asyncio.to_thread(sqlite_parts, db)

    leaves = site.hubs * site.per_hub
    figures: dict[str, Any] = {"store": "redis" if is_redis else "sqlite", "queued_urls": leaves}
    # With fairness measured, one host may hold half the workers, as the service's defaults have it (4 of 8): a host
    # allowed every worker leaves another host's request waiting for a page of the crawl to end.
    per_host = max(1, workers // 2) if fairness is not None else workers
    figures["per_host_concurrency"] = per_host
    async with Deployment(store_url, workers, workdir, prefix=prefix, per_host_concurrency=per_host) as deployment:
        pid = deployment.serve.pid
        if fairness is not None:
            count, interval = fairness
            figures["idle_single"] = await sample_singles(
                deployment, site.other_page, "idle", count, interval, lambda: True
            )
        before = await parts()
        figures["rss_before_mb"] = memory_bytes(pid, "VmRSS") / 1e6
        crawl_id = "tree"
        body = {"url": site.seed, "max_depth": 2, "max_pages": 1 + site.hubs + leaves, "respect_robots": True}
        async with aiohttp.ClientSession() as session:
            ws = await session.ws_connect(
                f"ws://127.0.0.1:{deployment.port}/scraped_urls?request_id={crawl_id}", max_msg_size=0
            )
            done_task = asyncio.create_task(wait_done(ws, timeout))
            began = time.perf_counter()
            await start_crawl(session, deployment.base_url, crawl_id, body)
            state = await wait_all_queued(deployment, crawl_id, site, timeout)
            figures["seconds_to_queue"] = time.perf_counter() - began
            queued = await parts()
            figures["rss_queued_mb"] = memory_bytes(pid, "VmRSS") / 1e6
            figures["queued_counts"] = state["counts"]
            figures["bytes_per_queued_url"] = growth(queued, before, leaves)
            await site.release()
            drained = time.perf_counter()
            if fairness is not None:
                count, interval = fairness
                figures["busy_single"] = await sample_singles(
                    deployment, site.other_page, "busy", count, interval, lambda: not done_task.done()
                )
                figures["crawl_outlasted_samples"] = not done_task.done()
            done = await done_task
            figures["seconds_to_drain"] = time.perf_counter() - drained
            await ws.close()
        ended = done["counts"]["fetched"] + done["counts"]["failed"]
        figures["done_counts"] = done["counts"]
        after = await parts()
        figures["bytes_per_visited_url"] = growth(after, before, max(1, ended))
        figures["rss_after_mb"] = memory_bytes(pid, "VmRSS") / 1e6
        figures["peak_rss_mb"] = memory_bytes(pid, "VmHWM") / 1e6
        if db is not None:
            figures["sqlite_file_mb"] = (
                sum(p.stat().st_size for p in db.parent.glob(db.name + "*") if p.is_file()) / 1e6
            )
    return figures
