"""``python -m bench.bench_workers``: how worker processes and one Redis scale, on loopback.

Two measurements:

- **Pages per second with 1 and with 2 ``linkcast worker`` processes** on a generated local site (``bench.site``,
  served by its own process). The workers are started and ready first; then all jobs are queued at once through the
  Redis store and the clock runs until the last terminal event is in the log. The ratio says how far adding a worker
  process helps on this machine (parsing is CPU-bound and one process uses one core).
- **What one Redis costs per job**: store operations alone (submit, take, started, finish: what one page costs the
  store, without fetching) from many concurrent loops, and the Redis server's own CPU seconds per job (``INFO cpu``),
  which gives the jobs per second one Redis core can carry.

Only loopback is used. The Redis is ``--redis`` (default ``redis://127.0.0.1:6379/15``; when nothing answers there, a
``redis-server`` of the bench's own on a free loopback port); keys go under a unique prefix and are deleted
afterwards. ``--json PATH`` also writes every figure there. A tiny run, as the test suite does it
(``tests/bench/test_bench_runs.py``): ``--pages 30 --runs 1 --store-jobs 100 --store-loops 4``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psutil
import redis.asyncio as aioredis
from tests.support.ports import free_port
from tests.support.redis import RedisServer, reachable

from bench.site import SiteShape, generate_site
from linkcast.core.events import result_body, started_body
from linkcast.settings import Settings
from linkcast.store.redis import RedisStore

ROOT = Path(__file__).resolve().parent.parent
READY_LINE = b"workers running on"


class WorkerRun:
    """A ``linkcast worker`` process; ``start()`` returns once it says its workers run."""

    def __init__(self, store_url: str, prefix: str, tasks: int, log: Path) -> None:
        self.command = [
            sys.executable, "-m", "linkcast", "worker", "--store", store_url, "--redis-prefix", prefix,
            "--workers", str(tasks), "--per-host-concurrency", str(tasks), "--allow-private-networks",
            "--log-level", "info",
        ]  # fmt: skip
        self.log = log
        self.process: asyncio.subprocess.Process | None = None
        self._copy: asyncio.Task[None] | None = None

    async def start(self) -> WorkerRun:
        self.process = await asyncio.create_subprocess_exec(
            *self.command, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, cwd=ROOT
        )
        assert self.process.stderr is not None
        stderr = self.process.stderr
        async with asyncio.timeout(30):
            while READY_LINE not in (line := await stderr.readline()):
                if not line:
                    raise RuntimeError(f"linkcast worker exited; see {self.log}")
        self._copy = asyncio.create_task(self._copy_log(stderr))
        return self

    async def _copy_log(self, stderr: asyncio.StreamReader) -> None:
        with open(self.log, "ab") as out:
            async for line in stderr:
                out.write(line)

    async def stop(self) -> None:
        if self.process is not None:
            await stop_process(self.process)
        if self._copy is not None:
            await asyncio.gather(self._copy, return_exceptions=True)


async def stop_process(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(20):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()


async def delete_prefix(store_url: str, prefix: str) -> None:
    client = aioredis.Redis.from_url(store_url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=1000)]
        if keys:
            await client.unlink(*keys)
    finally:
        await client.aclose()


async def wait_terminal(store: RedisStore, count: int, timeout: float) -> None:
    """Tail the log (as a replica's hub does) until ``count`` terminal events are in it."""
    seen, position = 0, 0
    async with asyncio.timeout(timeout):
        while seen < count:
            for event in await store.wait_events(position, timeout=5.0):
                position = event.id
                seen += event.is_terminal


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process and its children (e.g. an extraction pool) have used so far."""
    process = psutil.Process(pid)
    if pid == os.getpid():  # the driver: its children are the processes measured on their own
        own = process.cpu_times()
        return float(own.user + own.system)
    total = 0.0
    for each in (process, *process.children(recursive=True)):
        with contextlib.suppress(psutil.NoSuchProcess):
            times = each.cpu_times()
            total += times.user + times.system
    times = process.cpu_times()
    return total + times.children_user + times.children_system  # children already reaped


async def pages_per_second(
    store_url: str, urls: list[str], processes: int, tasks: int, logdir: Path, site_pid: int
) -> dict[str, float]:
    """One run: pages/s, and the CPU milliseconds per page spent by each part (workers, site, Redis, this driver)."""
    prefix = f"linkcast-bench-{uuid.uuid4().hex[:8]}"
    store = RedisStore(Settings(store=store_url, redis_prefix=prefix))
    await store.open()
    workers = await asyncio.gather(
        *(WorkerRun(store_url, prefix, tasks, logdir / f"worker-{processes}-{n}.log").start() for n in range(processes))
    )
    pids = [w.process.pid for w in workers if w.process is not None]

    async def cpu_by_part() -> dict[str, float]:
        return {
            "workers": sum(cpu_seconds(pid) for pid in pids),
            "site": cpu_seconds(site_pid),
            "redis": await redis_cpu_seconds(store),
            "driver": cpu_seconds(os.getpid()),
        }

    try:
        cpu_before = await cpu_by_part()
        load_before = psutil.cpu_times()
        began = time.perf_counter()
        limit = asyncio.Semaphore(64)

        async def submit(n: int, url: str) -> None:
            async with limit:
                await store.submit(f"r{n}", url)

        await asyncio.gather(*(submit(n, url) for n, url in enumerate(urls)))
        await wait_terminal(store, len(urls), timeout=600)
        elapsed = time.perf_counter() - began
        cpu_after = await cpu_by_part()
        load_after = psutil.cpu_times()
        failed = sum(1 for e in await store.events_after(0, limit=10 * len(urls)) if e.type == "error")
        if failed:
            print(f"  warning: {failed} pages ended in an error", file=sys.stderr)
        busy = (sum(load_after) - load_after.idle) - (sum(load_before) - load_before.idle)
        run = {f"cpu_ms_per_page_{part}": (cpu_after[part] - cpu_before[part]) / len(urls) * 1000 for part in cpu_after}
        run["pages_per_second"] = len(urls) / elapsed
        # An error ends a page as surely as a result, and sooner: the rate counts only if none failed.
        run["failed_pages"] = failed
        run["machine_busy_cores"] = busy / elapsed  # every process on the machine, other users included
        ours = sum(cpu_after.values()) - sum(cpu_before.values())
        run["other_load_cores"] = max(0.0, run["machine_busy_cores"] - ours / elapsed)  # what else ran meanwhile
        return run
    finally:
        await asyncio.gather(*(w.stop() for w in workers))
        await store.close()
        await delete_prefix(store_url, prefix)


async def redis_cost(store_url: str, jobs: int, loops: int) -> dict[str, float]:
    """Jobs per second through the store alone, and the Redis server's CPU seconds per job."""
    prefix = f"linkcast-bench-{uuid.uuid4().hex[:8]}"
    store = RedisStore(Settings(store=store_url, redis_prefix=prefix))
    await store.open()
    links = [f"http://127.0.0.1/p/{n}.html" for n in range(100)]  # a result the size of a real page's (100 links)
    counter = iter(range(jobs))

    async def loop(worker: str) -> None:
        for n in counter:
            url = f"http://127.0.0.1/p/{n}.html"
            await store.submit(f"r{n}", url)
            job = await store.next_job(worker, timeout=5.0)
            assert job is not None
            await store.append_started(job, started_body(job.request_id, job.url, job.attempt))
            body = result_body(
                job.request_id, job.url, final_url=url, status_code=200, links=links, links_truncated=False, timings={}
            )
            await store.finish(job, body)

    try:
        cpu_before = await redis_cpu_seconds(store)
        began = time.perf_counter()
        await asyncio.gather(*(loop(f"bench-{n}") for n in range(loops)))
        elapsed = time.perf_counter() - began
        cpu = await redis_cpu_seconds(store) - cpu_before
        events = await store.redis.xlen(store.key("events"))
        events_bytes = await store.redis.memory_usage(store.key("events"), samples=0) or 0
        record_bytes = await store.redis.memory_usage(store.request_key("r0"), samples=0) or 0
        return {
            "jobs": jobs,
            "links": len(links),
            "jobs_per_second": jobs / elapsed,
            "redis_cpu_ms_per_job": cpu / jobs * 1000,
            "bytes_per_event": events_bytes / max(1, events),
            "bytes_per_request": record_bytes,
        }
    finally:
        await store.close()
        await delete_prefix(store_url, prefix)


async def redis_cpu_seconds(store: RedisStore) -> float:
    info = await store.redis.info("cpu")
    return float(info["used_cpu_user"]) + float(info["used_cpu_sys"])


async def main(args: argparse.Namespace) -> dict[str, Any]:
    results: dict[str, Any] = {
        "cpus": os.cpu_count(),
        "pages": args.pages,
        "page_bytes": args.page_bytes,
        "tasks": args.tasks,
    }
    with tempfile.TemporaryDirectory(prefix="linkcast-bench-workers-") as tmp:
        folder = Path(tmp)
        port = free_port()
        origin = f"http://127.0.0.1:{port}"
        shape = SiteShape(pages=args.pages, page_bytes=args.page_bytes, links_per_page=args.links)
        urls = generate_site(folder / "site", origin, shape)
        site = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.site", str(folder / "site"), "--port", str(port), cwd=ROOT,
            stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL,
        )  # fmt: skip
        try:
            await wait_port(port)
            # Rounds alternate 1 and 2 processes, so that a change in the machine's other load hits both alike.
            runs: dict[int, list[dict[str, float]]] = {1: [], 2: []}
            for _ in range(args.runs):
                for processes in (1, 2):
                    runs[processes].append(
                        await pages_per_second(args.redis, urls, processes, args.tasks, folder, site.pid)
                    )
            for processes, measured in runs.items():
                results[f"workers_{processes}"] = sorted(measured, key=lambda run: run["pages_per_second"])[
                    len(measured) // 2
                ]
                results[f"failed_pages_{processes}"] = sum(int(run["failed_pages"]) for run in measured)  # every run
                rates = [round(run["pages_per_second"]) for run in measured]
                others = [round(run["other_load_cores"], 2) for run in measured]
                print(f"{processes} worker process(es): {rates} pages/s; other load {others} cores", file=sys.stderr)
        finally:
            await stop_process(site)
    one, two = results["workers_1"]["pages_per_second"], results["workers_2"]["pages_per_second"]
    results["ratio_2_vs_1"] = two / one
    results["redis"] = await redis_cost(args.redis, args.store_jobs, args.store_loops)
    results["redis"]["jobs_per_second_per_redis_core"] = per_core(results["redis"]["redis_cpu_ms_per_job"])
    return results


def per_core(cpu_ms: float) -> float | None:
    """What one core carries at ``cpu_ms`` a unit, or None if none was read (CPU time comes in 10 ms ticks)."""
    return 1000 / cpu_ms if cpu_ms > 0 else None


def rate(value: float | None) -> str:
    return f"~{value:.0f}" if value is not None else "- (no CPU read)"


async def wait_port(port: int, timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while True:
            try:
                _reader, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            writer.close()
            return


def report(results: dict[str, Any]) -> str:
    lines = [
        "| worker processes | pages/s | CPU ms per page: workers | site | Redis | driver | other load (cores) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for processes in (1, 2):
        run = results[f"workers_{processes}"]
        lines.append(
            f"| {processes} | {run['pages_per_second']:.0f} | {run['cpu_ms_per_page_workers']:.2f} | "
            f"{run['cpu_ms_per_page_site']:.2f} | {run['cpu_ms_per_page_redis']:.2f} | "
            f"{run['cpu_ms_per_page_driver']:.2f} | {run['other_load_cores']:.2f} |"
        )
    r = results["redis"]
    two = results["workers_2"]
    failed = {processes: results[f"failed_pages_{processes}"] for processes in (1, 2)}
    if any(failed.values()):
        lines += ["", f"Pages that ended in an error, all runs (the rates count them as done): {failed}."]
    lines += [
        "",
        f"Per core, from the CPU cost per page: a worker process {rate(per_core(two['cpu_ms_per_page_workers']))} "
        f"pages/s, Redis {rate(per_core(two['cpu_ms_per_page_redis']))} pages/s (with one reader of the event log).",
        "",
        f"2 vs 1 worker processes: x{results['ratio_2_vs_1']:.2f} ({results['pages']} pages of "
        f"{results['page_bytes'] // 1000} KB, {results['tasks']} concurrent fetches per process).",
        f"Store alone: {r['jobs_per_second']:.0f} jobs/s from one client process; Redis CPU "
        f"{r['redis_cpu_ms_per_job']:.3f} ms per job, so {rate(r['jobs_per_second_per_redis_core'])} "
        f"jobs/s per Redis core; Redis memory {r['bytes_per_event']:.0f} B per event (a result with "
        f"{r['links']} links), {r['bytes_per_request']:.0f} B per finished request record.",
    ]
    return "\n".join(lines)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--redis", default=os.environ.get("LINKCAST_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"))
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--page-bytes", type=int, default=30_000)
    parser.add_argument("--links", type=int, default=100)
    parser.add_argument("--tasks", type=int, default=16, help="concurrent fetches per worker process")
    parser.add_argument("--runs", type=int, default=3, help="runs per configuration (the median is reported)")
    parser.add_argument("--store-jobs", type=int, default=5000)
    parser.add_argument("--store-loops", type=int, default=32)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    arguments = parser.parse_args()
    own_redis = None if reachable(arguments.redis) else RedisServer()
    if own_redis is not None:
        print(f"nothing answers at {arguments.redis}: starting a redis-server of its own", file=sys.stderr)
        own_redis.start()
        arguments.redis = own_redis.url
    try:
        figures = asyncio.run(main(arguments))
    finally:
        if own_redis is not None:
            own_redis.remove()
    if arguments.json:
        arguments.json.parent.mkdir(parents=True, exist_ok=True)
        arguments.json.write_text(json.dumps(figures, indent=2))
    print(report(figures))
