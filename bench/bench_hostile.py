"""Hostile-site benchmark: the service's peak memory and a normal page's latency while a hostile site attacks it.

One ``linkcast serve`` (memory store, the default address policy with only the two local sites' ports allowed, the
hostile test's small limits) gets every attack of ``tests/hostile/site.py`` ``--rounds`` times, while a client submits
a normal page every ``--interval`` seconds and measures the time from its PUT to its result event; the same normal
pages are measured first with no attack, as the baseline. Meanwhile ``/healthz`` is polled to see how long the API
takes to answer under attack, and the RSS of the service and its extraction children is sampled.

A second part measures whether lexbor parsing blocks the event loop: the largest gap of a 1 ms ticker while a page
is parsed inline, in a thread (selectolax releases the GIL while lexbor parses) and in the extraction pool.

Three parts attack the HTTP server itself (``bench/slow_clients.py``), each on a ``linkcast serve`` with default
settings: ``heads``, four clients each sending a 64 MB header (the service's peak RSS); ``slowloris``, slow request
heads (one header line every 5 s, reopened when cut) from many loopback addresses at rising counts, then from one
address, while ``/healthz`` is asked from 127.0.0.1 every 50 ms; ``spread``, the issue's 20,100 slow connections,
from two attacker processes (one may not open that many sockets).

Run: ``python -m bench.bench_hostile [--rounds 3] [--interval 0.25] [--parts site,parsing,heads,slowloris,spread]``;
every size has an option (``--help``), and ``--json PATH`` also writes every figure there. A tiny run, as the test
suite does it (``tests/bench/test_bench_runs.py``): ``--parts site,parsing --rounds 1 --attacks
404,500,loop-a,to-metadata,reset,octet-stream --normal-pages 3 --interval 0.05 --parse-links 5000 --parse-depth
2000``. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import orjson
from tests.hostile.site import HostileSite
from tests.hostile.test_hostile import PeakRSS, hostile_flags
from tests.support.service import Service
from tests.support.site import LocalSite

from bench.slow_clients import Slowloris, healthz_latencies, latency_summary, lifetimes_summary, oversized_heads
from linkcast.core.links import extract_links
from linkcast.extraction import ExtractionPool


async def normal_latencies(
    service: Service, site: LocalSite, count: int, interval: float, tag: str
) -> tuple[list[float], int]:
    """Seconds from PUT to result for ``count`` normal pages submitted ``interval`` apart, and how many of them
    ended in an error instead (their time is not a page's latency)."""
    sent: dict[str, float] = {}
    done: dict[str, float] = {}
    failed: set[str] = set()
    async with service.connect() as ws:

        async def receive() -> None:
            while len(done) + len(failed) < count:
                frame = orjson.loads(await ws.recv())
                if frame.get("request_id") not in sent:
                    continue
                if frame.get("type") == "result":
                    done[frame["request_id"]] = time.perf_counter() - sent[frame["request_id"]]
                elif frame.get("type") == "error":
                    failed.add(frame["request_id"])

        receiver = asyncio.create_task(receive())
        async with aiohttp.ClientSession() as session:
            for n in range(count):
                request_id = f"{tag}-{n}"
                url = site.page(f"/{request_id}", f'<a href="/next{n}">next</a>')
                sent[request_id] = time.perf_counter()
                await service.put(request_id, url, session=session)
                await asyncio.sleep(interval)
        await asyncio.wait_for(receiver, 120)
    return sorted(done.values()), len(failed)


async def health_latencies(service: Service, stop: asyncio.Event) -> tuple[list[float], int]:
    """Seconds each ``GET /healthz`` took until ``stop``, and how many answered anything but 200."""
    times: list[float] = []
    unhealthy = 0
    async with aiohttp.ClientSession() as session:
        while not stop.is_set():
            began = time.perf_counter()
            async with session.get(f"{service.base_url}/healthz") as response:
                await response.read()
                unhealthy += response.status != 200
            times.append(time.perf_counter() - began)
            await asyncio.sleep(0.02)
    return times, unhealthy


async def attack(service: Service, hostile: HostileSite, names: list[str], rounds: int) -> tuple[float, dict[str, str]]:
    """Submit the attacks ``names`` ``rounds`` times; the seconds until each has its terminal event, and every one
    that ended otherwise than its case expects (a policy that refused them all would make a fast, empty attack)."""
    began = time.perf_counter()
    wanted: dict[str, str] = {}  # request id -> attack
    async with service.connect() as ws, aiohttp.ClientSession() as session:
        for round_ in range(rounds):
            for name in names:
                request_id = f"attack{round_}-{name}"
                wanted[request_id] = name
                await service.put(request_id, hostile.cases[name].url, session=session)
        outcomes: dict[str, str] = {}
        async with asyncio.timeout(300):
            while len(outcomes) < len(wanted):
                frame = orjson.loads(await ws.recv())
                if frame.get("type") in ("result", "error") and frame["request_id"] in wanted:
                    outcomes[frame["request_id"]] = _outcome(frame)
    seconds = time.perf_counter() - began
    unexpected = {rid: got for rid, got in outcomes.items() if got != hostile.cases[wanted[rid]].expect}
    return seconds, unexpected


def summary(values: list[float]) -> dict[str, float]:
    """Median, p95 and max in milliseconds, and the count."""
    ms = sorted(v * 1000 for v in values)
    if not ms:
        return {"n": 0}
    p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
    return {"median_ms": statistics.median(ms), "p95_ms": p95, "max_ms": ms[-1], "n": len(ms)}


def show(figures: dict[str, float]) -> str:
    if not figures["n"]:
        return "no sample"
    return (
        f"median {figures['median_ms']:.1f} ms, p95 {figures['p95_ms']:.1f} ms, max {figures['max_ms']:.1f} ms"
        f" (n={figures['n']:.0f})"
    )


async def service_under_attack(args: argparse.Namespace) -> dict[str, Any]:
    hostile, normal = HostileSite(), LocalSite()
    await hostile.start()
    await normal.start()
    names = args.attacks or list(hostile.cases)
    unknown = sorted(set(names) - set(hostile.cases))
    if unknown:
        raise SystemExit(f"unknown attacks {unknown}; there are: {', '.join(hostile.cases)}")
    service = Service(*hostile_flags(hostile, normal), store="memory://", log_path=args.log)
    await service.start()
    assert service.process is not None
    rss = PeakRSS(service.process.pid)
    idle_rss = rss.sample()
    try:
        baseline, baseline_failed = await normal_latencies(service, normal, args.normal_pages, args.interval, "calm")
        sampler = asyncio.create_task(rss.run())
        stop = asyncio.Event()
        health = asyncio.create_task(health_latencies(service, stop))
        attack_task = asyncio.create_task(attack(service, hostile, names, args.rounds))
        under, under_failed = await normal_latencies(service, normal, args.normal_pages, args.interval, "attacked")
        attack_seconds, unexpected = await attack_task
        stop.set()
        health_times, unhealthy = await health
        sampler.cancel()
    finally:
        service.stop()
        await hostile.stop()
        await normal.stop()
    return {
        "attacks": args.rounds * len(names),
        "attack_seconds": attack_seconds,
        "unexpected_outcomes": unexpected,
        "idle_rss_mib": idle_rss / 2**20,
        "peak_rss_mib": rss.peak / 2**20,
        "baseline": summary(baseline),
        "baseline_failed": baseline_failed,
        "under_attack": summary(under),
        "under_attack_failed": under_failed,
        "healthz_under_attack": summary(health_times),
        "healthz_not_200": unhealthy,
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


async def event_loop_blocking(links: int, depth: int) -> dict[str, dict[str, float]]:
    """For a page of ``links`` links and one ``depth`` ``<div>`` deep: how long parsing it took and the longest stall
    of the event loop meanwhile (ms), inline, in a thread and in the extraction pool."""
    big = b"".join(f"<div><p>text <a href='/p{n}'>link {n}</a></p></div>".encode() for n in range(links))
    nested = b"<div>" * depth + b"<a href=/deep>deep</a>"
    base = "http://example.test/"
    pool = ExtractionPool(timeout=60)
    await pool.extract(big[:100_000], base, None)  # start the children first
    answers: dict[str, dict[str, float]] = {}
    try:
        for label, page in ((f"{len(big) / 2**20:.1f} MiB, {links:,} links", big), (f"{depth:,} nested divs", nested)):

            async def inline(page: bytes = page) -> None:
                extract_links(page, base, None)

            async def thread(page: bytes = page) -> None:
                await asyncio.to_thread(extract_links, page, base, None)

            async def process(page: bytes = page) -> None:
                await pool.extract(page, base, None)

            for how, work in (("inline", inline), ("thread", thread), ("process pool", process)):
                gap, took = await loop_gap(work)
                answers[f"{label}, {how}"] = {"took_ms": took * 1000, "longest_stall_ms": gap * 1000}
    finally:
        await pool.close()
    return answers


async def oversized_head_attack(connections: int, megabytes: int) -> dict[str, str]:
    """``connections`` clients each send a ``megabytes`` MB header to a default ``linkcast serve``."""
    service = Service(store="memory://", log_path=Path("/tmp/bench_hostile_heads.log"))
    await service.start()
    assert service.process is not None
    rss = PeakRSS(service.process.pid)
    idle = rss.sample()
    sampler = asyncio.create_task(rss.run())
    began = time.perf_counter()
    try:
        refused = await oversized_heads(service, connections, megabytes * 2**20)
        took = time.perf_counter() - began
        health, failures = await healthz_latencies(service, 1.0)
    finally:
        sampler.cancel()
        service.stop()
    return {
        "attack": f"{connections} connections x {megabytes} MB header",
        "refused (431 or closed)": f"{sum(refused)} of {connections}, all done in {took:.1f} s",
        "RSS idle / peak": f"{idle / 2**20:.0f} / {rss.peak / 2**20:.0f} MiB (+{(rss.peak - idle) / 2**20:.0f} MiB)",
        "/healthz after": latency_summary(health, failures),
    }


async def slowloris_attack(levels: list[int], per_address: int, hold: float, one_address: int) -> dict[str, str]:
    """Slow request heads at each count in ``levels`` (``per_address`` per source address), then ``one_address``
    from a single address; ``/healthz`` from 127.0.0.1 for ``hold`` seconds at each."""
    service = Service(store="memory://", log_path=Path("/tmp/bench_hostile_slowloris.log"))
    await service.start()
    assert service.process is not None
    rss = PeakRSS(service.process.pid)
    results = {"idle RSS": f"{rss.sample() / 2**20:.0f} MiB"}
    try:
        for label, attack in [
            *((f"{level} from {-(-level // per_address)} addresses", Slowloris(service.port, per_address, target=level))
              for level in levels),
            (f"{one_address} from one address", Slowloris(service.port, one_address, target=one_address)),
        ]:  # fmt: skip
            began = time.perf_counter()
            await attack.top_up()
            opened = time.perf_counter() - began
            stop = asyncio.Event()
            running = asyncio.create_task(attack.run(stop))
            health, failures = await healthz_latencies(service, hold)
            stop.set()
            await running
            await asyncio.sleep(0.5)  # let the closes of the last pass's refusals arrive
            attack.prune()
            results[label] = (
                f"{attack.most_open} held at most, {len(attack.open)} at the end (first pass {opened:.1f} s, "
                f"{attack.refused} refused); /healthz "
                f"{latency_summary(health, failures)}; RSS {rss.sample() / 2**20:.0f} MiB; "
                f"{lifetimes_summary(attack.cut)}"
            )
            attack.close()
    finally:
        service.stop()
    return results


async def spread_attack(total: int, processes: int, seconds: float) -> dict[str, str]:
    """``total`` slow connections from ``processes`` attacker processes (one process may not open enough sockets),
    200 per source address; ``/healthz`` from 127.0.0.1 in windows of 5 s meanwhile."""
    service = Service(store="memory://", log_path=Path("/tmp/bench_hostile_spread.log"))
    await service.start()
    assert service.process is not None
    rss = PeakRSS(service.process.pid)
    sampler = asyncio.create_task(rss.run())
    share = -(-total // processes)
    attackers = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bench.slow_clients", str(service.port), str(share),
            str(2 + n * (share // 200 + 1)), str(seconds), stdout=asyncio.subprocess.PIPE,
        )
        for n in range(processes)
    ]  # fmt: skip
    results: dict[str, str] = {}
    try:
        for window in range(int(seconds // 5)):
            health, failures = await healthz_latencies(service, 5.0)
            results[f"/healthz, {5 * window}-{5 * window + 5} s"] = latency_summary(health, failures)
        for n, attacker in enumerate(attackers):
            out, _ = await asyncio.wait_for(attacker.communicate(), 120)
            results[f"attacker {n + 1} ({share} connections)"] = out.decode().strip()
        results["service RSS peak"] = f"{rss.peak / 2**20:.0f} MiB"
    finally:
        sampler.cancel()
        service.stop()
    return results


def print_results(title: str, results: dict[str, Any]) -> None:
    print(title)
    for key, value in results.items():
        print(f"  {key:>28}: {value:.1f}" if isinstance(value, float) else f"  {key:>28}: {value}")


def _outcome(event: dict[str, Any]) -> str:
    """What a terminal event says, in the terms of ``Case.expect``: ``result`` or the error's code."""
    return "result" if event["type"] == "result" else str(event["error"]["code"])


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3, help="times every attack is submitted")
    parser.add_argument("--interval", type=float, default=0.25, help="seconds between two normal pages")
    parser.add_argument("--normal-pages", type=int, default=20, help="normal pages measured, calm and under attack")
    parser.add_argument(
        "--attacks",
        type=lambda text: [name for name in text.split(",") if name],
        help="comma-separated attacks of tests/hostile/site.py to submit (default: every one)",
    )
    parser.add_argument("--parse-links", type=int, default=100_000, help="links of the large page parsed")
    parser.add_argument("--parse-depth", type=int, default=20_000, help="nesting depth of the deep page parsed")
    parser.add_argument("--log", type=Path, help="the service's log (default: a new temporary file)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--parts", default="site,parsing,heads,slowloris,spread", help="which parts to run")
    parser.add_argument("--head-mb", type=int, default=64, help="size of each oversized header")
    parser.add_argument(
        "--slow-levels", default="1000,4000,8000,16000,19000", help="slow connections from many addresses, in turn"
    )
    parser.add_argument("--per-address", type=int, default=200, help="slow connections per source address")
    parser.add_argument("--one-address", type=int, default=20_100, help="slow connections from a single address")
    parser.add_argument("--hold", type=float, default=12.0, help="seconds /healthz is asked at each level")
    parser.add_argument("--spread", type=int, default=20_100, help="slow connections of the spread part, in all")
    parser.add_argument("--attackers", type=int, default=2, help="attacker processes of the spread part")
    parser.add_argument("--spread-seconds", type=float, default=30.0, help="how long the spread attack lasts")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    if args.log is None:
        args.log = Path(tempfile.mkdtemp(prefix="linkcast-bench-hostile-")) / "serve.log"
    results: dict[str, Any] = {}
    if "site" in parts:
        results = await service_under_attack(args)
        for key, value in results.items():
            if isinstance(value, dict) and "n" in value:
                value = show(value)
            print(f"{key:>22}: {value:.1f}" if isinstance(value, float) else f"{key:>22}: {value}")
        print(f"{'service log':>22}: {args.log}")
    if "parsing" in parts:
        print("event loop while parsing:")
        results["event_loop"] = await event_loop_blocking(args.parse_links, args.parse_depth)
        for key, value in results["event_loop"].items():
            print(f"  {key}: took {value['took_ms']:.0f} ms, longest loop stall {value['longest_stall_ms']:.1f} ms")
    if "heads" in parts:
        results["heads"] = await oversized_head_attack(4, args.head_mb)
        print_results("oversized request heads:", results["heads"])
    if "spread" in parts:
        results["spread"] = await spread_attack(args.spread, args.attackers, args.spread_seconds)
        print_results(f"slow request heads from {args.attackers} processes:", results["spread"])
    if "slowloris" in parts:
        levels = [int(level) for level in args.slow_levels.split(",") if level]
        results["slowloris"] = await slowloris_attack(levels, args.per_address, args.hold, args.one_address)
        print_results("slow request heads (slowloris):", results["slowloris"])
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    asyncio.run(main())
