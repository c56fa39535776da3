"""One linkcast crawl, timed by a client, and the processes it runs in: ``linkcast serve`` on SQLite (one process),
or on Redis with API replicas and ``linkcast worker`` processes (``bench_workers.WorkerRun``).

A crawl is timed as a user sees it: from the ``PUT /crawls/<id>`` sent to the ``crawl.done`` frame on a WebSocket
that listens to that crawl only (``?request_id=``), connected first. Frames are not decoded on the way (a crawl sends
one per page); only the last one is. The server's CPU seconds during the crawl are read beside it.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from tests.support.ports import free_port

from bench.bench_workers import WorkerRun, delete_prefix
from bench.processes import PYTHON, Process, cpu_seconds

DONE_MARK = '"type":"crawl.done"'


@dataclass
class CrawlRun:
    seconds: float
    counts: dict[str, Any]
    server_cpu: float  # CPU seconds of the service's processes during the crawl

    @property
    def fetched(self) -> int:
        return int(self.counts["fetched"])

    @property
    def pages_per_second(self) -> float:
        return self.fetched / self.seconds

    @property
    def cpu_ms_per_page(self) -> float:
        return self.server_cpu * 1000 / max(1, self.fetched)


class Deployment:
    """linkcast processes (one ``serve`` with workers, or ``serve --workers 0`` and ``linkcast worker``s)."""

    def __init__(
        self,
        store: str,
        workers: int,
        logdir: Path,
        worker_processes: int = 0,
        prefix: str = "",
        per_host_concurrency: int | None = None,
    ) -> None:
        self.port = free_port()
        self.store = store
        self.prefix = prefix
        self.logdir = logdir
        self.worker_processes = worker_processes
        self.tasks = workers
        in_process = 0 if worker_processes else workers
        flags = [
            "--host", "127.0.0.1", "--port", str(self.port), "--store", store, "--log-level", "warning",
            "--workers", str(in_process), "--per-host-concurrency", str(per_host_concurrency or workers),
            "--rate-limit", "0",
            "--max-crawl-pages", "1000000", "--client-queue-size", "100000",
        ]  # fmt: skip
        if prefix:
            flags += ["--redis-prefix", prefix]
        command = [PYTHON, "-m", "linkcast", "serve", "--allow-private-networks", *flags]
        self.serve = Process("linkcast-serve", command, logdir / "crawl-serve.log")
        self.workers: list[WorkerRun] = []

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def pids(self) -> list[int]:
        return [self.serve.pid] + [w.process.pid for w in self.workers if w.process is not None]

    def cpu_seconds(self) -> float:
        return sum(cpu_seconds(pid) for pid in self.pids())

    async def __aenter__(self) -> Deployment:
        self.serve.start()
        try:
            await self.serve.ready_http(self.base_url + "/healthz")
            for _ in range(self.worker_processes):
                await self.add_worker()
        except BaseException:
            await self.__aexit__()
            raise
        return self

    async def add_worker(self) -> None:
        """One more ``linkcast worker`` process, running once this returns."""
        log = self.logdir / f"crawl-worker-{len(self.workers)}.log"
        self.workers.append(await WorkerRun(self.store, self.prefix, self.tasks, log).start())

    async def __aexit__(self, *_exc: object) -> None:
        await asyncio.gather(*(w.stop() for w in self.workers), return_exceptions=True)
        self.serve.stop()
        if self.prefix:
            await delete_prefix(self.store, self.prefix)


def crawl_body(seed: str, depth: int, max_pages: int, exclude: list[str]) -> dict[str, Any]:
    return {"url": seed, "max_depth": depth, "max_pages": max_pages, "exclude": exclude, "respect_robots": True}


async def start_crawl(session: aiohttp.ClientSession, base_url: str, crawl_id: str, body: dict[str, Any]) -> None:
    async with session.put(f"{base_url}/crawls/{crawl_id}", json=body) as response:
        if response.status != 201:
            raise RuntimeError(f"PUT /crawls/{crawl_id}: {response.status} {await response.text()}")


async def crawl_state(session: aiohttp.ClientSession, base_url: str, crawl_id: str) -> dict[str, Any]:
    async with session.get(f"{base_url}/crawls/{crawl_id}") as response:
        state: dict[str, Any] = orjson.loads(await response.read())
        return state


async def wait_done(ws: aiohttp.ClientWebSocketResponse, timeout: float) -> dict[str, Any]:
    """Read the crawl's frames until its ``crawl.done``; that frame, decoded."""
    async with asyncio.timeout(timeout):
        async for message in ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            if DONE_MARK in message.data[:100]:
                frame: dict[str, Any] = orjson.loads(message.data)
                return frame
    raise RuntimeError(f"the stream closed before crawl.done (close code {ws.close_code})")


async def timed_crawl(deployment: Deployment, crawl_id: str, body: dict[str, Any], timeout: float) -> CrawlRun:
    async with aiohttp.ClientSession() as session:
        ws_url = f"ws://127.0.0.1:{deployment.port}/scraped_urls?request_id={crawl_id}"
        async with session.ws_connect(ws_url, max_msg_size=0) as ws:
            cpu = deployment.cpu_seconds()
            began = time.perf_counter()
            await start_crawl(session, deployment.base_url, crawl_id, body)
            done = await wait_done(ws, timeout)
            seconds = time.perf_counter() - began
            return CrawlRun(seconds, done["counts"], deployment.cpu_seconds() - cpu)


async def best_crawl(deployment: Deployment, name: str, body: dict[str, Any], repeats: int, timeout: float) -> CrawlRun:
    """The fastest of ``repeats`` crawls (each a new crawl id, so every page is fetched again): on a shared machine,
    the slower ones were slowed by someone else."""
    runs = [await timed_crawl(deployment, f"{name}-{n}", body, timeout) for n in range(max(1, repeats))]
    return max(runs, key=lambda run: run.pages_per_second)
