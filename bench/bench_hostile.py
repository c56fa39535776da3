"""Hostile-site benchmark: the service's peak memory and a normal page's latency while a hostile site attacks it.

One ``linkcast serve`` (memory store, the default address policy with only the two local sites' ports allowed, the
hostile test's small limits) gets every attack of ``tests/hostile/site.py`` ``--rounds`` times, while a client submits
a normal page every ``--interval`` seconds and measures the time from its PUT to its result event; the same normal
pages are measured first with no attack, as the baseline. Meanwhile ``/healthz`` is polled to see how long the API
takes to answer under attack, and the RSS of the service and its extraction children is sampled.

A second part measures whether lexbor parsing blocks the event loop: the largest gap of a 1 ms ticker while a page
is parsed inline, in a thread (selectolax releases the GIL while lexbor parses) and in the extraction pool.

Run: ``python -m bench.bench_hostile [--rounds 3] [--interval 0.25]``. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from tests.hostile.site import HostileSite
from tests.hostile.test_hostile import PeakRSS, hostile_flags
from tests.support.service import Service
from tests.support.site import LocalSite

from linkcast.core.links import extract_links
from linkcast.extraction import ExtractionPool


async def normal_latencies(service: Service, site: LocalSite, count: int, interval: float, tag: str) -> list[float]:
    """Seconds from PUT to result for ``count`` normal pages submitted ``interval`` apart."""
    sent: dict[str, float] = {}
    done: dict[str, float] = {}
    async with service.connect() as ws:

        async def receive() -> None:
            while len(done) < count:
                frame = orjson.loads(await ws.recv())
                if frame.get("type") in ("result", "error") and frame["request_id"] in sent:
                    done[frame["request_id"]] = time.perf_counter() - sent[frame["request_id"]]

        receiver = asyncio.create_task(receive())
        async with aiohttp.ClientSession() as session:
            for n in range(count):
                request_id = f"{tag}-{n}"
                url = site.page(f"/{request_id}", f'<a href="/next{n}">next</a>')
                sent[request_id] = time.perf_counter()
                await service.put(request_id, url, session=session)
                await asyncio.sleep(interval)
        await asyncio.wait_for(receiver, 120)
    return sorted(done.values())


async def health_latencies(service: Service, stop: asyncio.Event) -> list[float]:
    times: list[float] = []
    async with aiohttp.ClientSession() as session:
        while not stop.is_set():
            began = time.perf_counter()
            async with session.get(f"{service.base_url}/healthz") as response:
                await response.read()
            times.append(time.perf_counter() - began)
            await asyncio.sleep(0.02)
    return times


async def attack(service: Service, hostile: HostileSite, rounds: int) -> float:
    """Submit every attack ``rounds`` times; return the seconds until each has its terminal event."""
    began = time.perf_counter()
    wanted: set[str] = set()
    async with service.connect() as ws, aiohttp.ClientSession() as session:
        for round_ in range(rounds):
            for name, case in hostile.cases.items():
                request_id = f"attack{round_}-{name}"
                wanted.add(request_id)
                await service.put(request_id, case.url, session=session)
        seen: set[str] = set()
        async with asyncio.timeout(300):
            while seen != wanted:
                frame = orjson.loads(await ws.recv())
                if frame.get("type") in ("result", "error") and frame["request_id"] in wanted:
                    seen.add(frame["request_id"])
    return time.perf_counter() - began


def summary(values: list[float]) -> str:
    ms = sorted(v * 1000 for v in values)
    p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
    return f"median {statistics.median(ms):.1f} ms, p95 {p95:.1f} ms, max {ms[-1]:.1f} ms (n={len(ms)})"


async def service_under_attack(rounds: int, interval: float) -> dict[str, Any]:
    hostile, normal = HostileSite(), LocalSite()
    await hostile.start()
    await normal.start()
    service = Service(*hostile_flags(hostile, normal), store="memory://", log_path=Path("/tmp/bench_hostile.log"))
    await service.start()
    assert service.process is not None
    rss = PeakRSS(service.process.pid)
    idle_rss = rss.sample()
    try:
        baseline = await normal_latencies(service, normal, 20, interval, "calm")
        sampler = asyncio.create_task(rss.run())
        stop = asyncio.Event()
        health = asyncio.create_task(health_latencies(service, stop))
        attack_task = asyncio.create_task(attack(service, hostile, rounds))
        under = await normal_latencies(service, normal, 20, interval, "attacked")
        attack_seconds = await attack_task
        stop.set()
        health_times = await health
        sampler.cancel()
    finally:
        service.stop()
        await hostile.stop()
        await normal.stop()
    return {
        "attacks": rounds * len(hostile.cases),
        "attack_seconds": attack_seconds,
        "idle_rss_mib": idle_rss / 2**20,
        "peak_rss_mib": rss.peak / 2**20,
        "baseline": summary(baseline),
        "under_attack": summary(under),
        "healthz_under_attack": summary(health_times),
    }


async def loop_gap(work: Any) -> tuple[float, float]:
    """The largest gap of a 1 ms ticker while ``work()`` runs, and how long it ran."""
    gaps: list[float] = []
    running = True

    async def tick() -> None:
        last = time.perf_counter()
        while running:
            await asyncio.sleep(0.001)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    await asyncio.sleep(0.01)
    began = time.perf_counter()
    await work()
    took = time.perf_counter() - began
    running = False
    await ticker
    return max(gaps), took


async def event_loop_blocking() -> dict[str, str]:
    big = b"".join(f"<div><p>text <a href='/p{n}'>link {n}</a></p></div>".encode() for n in range(100_000))
    nested = b"<div>" * 20_000 + b"<a href=/deep>deep</a>"
    base = "http://example.test/"
    pool = ExtractionPool(timeout=60)
    await pool.extract(big[:100_000], base, None)  # start the children first
    answers: dict[str, str] = {}
    try:
        for label, page in ((f"{len(big) / 2**20:.1f} MiB, 100k links", big), ("20k nested divs", nested)):

            async def inline(page: bytes = page) -> None:
                extract_links(page, base, None)

            async def thread(page: bytes = page) -> None:
                await asyncio.to_thread(extract_links, page, base, None)

            async def process(page: bytes = page) -> None:
                await pool.extract(page, base, None)

            for how, work in (("inline", inline), ("thread", thread), ("process pool", process)):
                gap, took = await loop_gap(work)
                answers[f"{label}, {how}"] = f"took {took * 1000:.0f} ms, longest loop stall {gap * 1000:.1f} ms"
    finally:
        await pool.close()
    return answers


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="times every attack is submitted")
    parser.add_argument("--interval", type=float, default=0.25, help="seconds between two normal pages")
    args = parser.parse_args()
    results = await service_under_attack(args.rounds, args.interval)
    for key, value in results.items():
        print(f"{key:>22}: {value:.1f}" if isinstance(value, float) else f"{key:>22}: {value}")
    print("event loop while parsing:")
    for key, value in (await event_loop_blocking()).items():
        print(f"  {key}: {value}")


if __name__ == "__main__":
    asyncio.run(main())
