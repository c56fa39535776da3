"""Submitted/s: URLs the API accepts per second, one ``PUT /urls/<id>`` each against ``POST /urls`` batches.

For each store (SQLite in a scratch folder, Redis under a prefix of its own, deleted afterwards) one ``linkcast serve
--workers 0`` (nothing is fetched: what is measured is the submit path alone, the API and the store), then rounds of
``--urls`` URLs submitted three ways, alternating within each round so that a change in the machine's other load hits
all alike:

- ``put``: one ``PUT /urls/<id>`` per URL, ``--put-concurrency`` in flight (the baseline);
- ``batch100`` and ``batch1000``: ``POST /urls`` with ``{"urls": [...]}`` of 100 and 1,000 URLs, ``--batch-concurrency``
  batches in flight.

Each figure runs from the first request sent to the last answer received, and every URL must have been accepted (a
``201``, or ``status: accepted`` in the batch's answer) or the bench stops. Also the server's CPU per URL (user +
system), steadier than a rate on a shared machine. The median round counts; ratios are against ``put`` on the same
store, and Redis against SQLite.

Run: ``python -m bench.bench_submit [--urls 20000] [--rounds 3] [--put-concurrency 64] [--batch-concurrency 4]
[--redis URL] [--json FILE]``. Tiny (the test suite's): ``--urls 2000 --rounds 1 --put-concurrency 8``. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import psutil
from tests.support.redis import DEFAULT_URL, reachable
from tests.support.service import Service

from bench.bench_workers import delete_prefix

MODES = ("put", "batch100", "batch1000")
STORES = ("sqlite", "redis")
TARGET = "http://127.0.0.1:9/page/"  # never fetched: the servers run no workers


class Rejected(RuntimeError):
    """A URL the service did not accept: the figure would count work not done."""


async def _bounded(count: int, concurrency: int, one: Callable[[int], Awaitable[None]]) -> None:
    """``one(0)`` .. ``one(count - 1)``, ``concurrency`` at a time."""
    indexes = iter(range(count))

    async def lane() -> None:
        for index in indexes:
            await one(index)

    async with asyncio.TaskGroup() as group:
        for _ in range(min(concurrency, count)):
            group.create_task(lane())


async def submit_put(session: aiohttp.ClientSession, base: str, urls: list[str], concurrency: int) -> None:
    tag = uuid.uuid4().hex[:8]

    async def one(index: int) -> None:
        async with session.put(f"{base}/urls/{tag}-{index}", json={"url": urls[index]}) as answer:
            await answer.read()
            if answer.status != 201:
                raise Rejected(f"PUT answered {answer.status}")

    await _bounded(len(urls), concurrency, one)


async def submit_batches(
    session: aiohttp.ClientSession, base: str, urls: list[str], size: int, concurrency: int
) -> None:
    batches = [urls[start : start + size] for start in range(0, len(urls), size)]

    async def one(index: int) -> None:
        async with session.post(f"{base}/urls", json={"urls": batches[index]}) as answer:
            body = orjson.loads(await answer.read())
            if answer.status != 200:
                raise Rejected(f"POST /urls answered {answer.status}: {body}")
            accepted = sum(result.get("status") == "accepted" for result in body["results"])
            if accepted != len(batches[index]):
                raise Rejected(f"{len(batches[index]) - accepted} URLs of a batch refused")

    await _bounded(len(batches), concurrency, one)


def server_cpu(service: Service) -> float:
    assert service.process is not None
    times = psutil.Process(service.process.pid).cpu_times()
    return float(times.user + times.system)


async def one_round(service: Service, mode: str, urls: list[str], args: argparse.Namespace) -> dict[str, float]:
    connector = aiohttp.TCPConnector(limit=0)
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        cpu, started = server_cpu(service), time.perf_counter()
        if mode == "put":
            await submit_put(session, service.base_url, urls, args.put_concurrency)
        else:
            await submit_batches(session, service.base_url, urls, int(mode.removeprefix("batch")),
                                 args.batch_concurrency)  # fmt: skip
        seconds, cpu = time.perf_counter() - started, server_cpu(service) - cpu
    return {"submitted_per_second": len(urls) / seconds, "server_cpu_us_per_url": cpu / len(urls) * 1e6}


async def measure_store(
    name: str, store: str, flags: list[str], scratch: Path, args: argparse.Namespace
) -> dict[str, Any]:
    service = Service("--workers", "0", "--rate-limit", "0", "--allow-private-networks", *flags, store=store,
                      log_path=scratch / f"serve-{name}.log")  # fmt: skip
    await service.start()
    rounds: dict[str, list[dict[str, float]]] = {mode: [] for mode in MODES}
    try:
        urls = [f"{TARGET}{n}" for n in range(args.urls)]
        for _ in range(args.rounds):
            for mode in MODES:
                rounds[mode].append(await one_round(service, mode, urls, args))
    finally:
        service.stop()
    figures: dict[str, Any] = {}
    for mode, measured in rounds.items():
        median = sorted(measured, key=lambda run: run["submitted_per_second"])[len(measured) // 2]
        figures[mode] = {key: round(value, 1) for key, value in median.items()}
        figures[mode]["every_round"] = [round(run["submitted_per_second"]) for run in measured]
    base = figures["put"]["submitted_per_second"]
    for mode in MODES[1:]:
        figures[f"{mode}_over_put"] = round(figures[mode]["submitted_per_second"] / base, 2)
    return figures


async def measure(args: argparse.Namespace, scratch: Path) -> dict[str, Any]:
    results: dict[str, Any] = {
        "urls_per_round": args.urls,
        "rounds": args.rounds,
        "put_concurrency": args.put_concurrency,
        "batch_concurrency": args.batch_concurrency,
        "loadavg_before": Path("/proc/loadavg").read_text().split()[:3],
    }
    results["sqlite"] = await measure_store("sqlite", f"sqlite:///{scratch}/submit.db", [], scratch, args)
    if reachable(args.redis):
        prefix = f"linkcast-bench-submit-{uuid.uuid4().hex[:8]}"
        try:
            results["redis"] = await measure_store("redis", args.redis, ["--redis-prefix", prefix], scratch, args)
        finally:
            await delete_prefix(args.redis, prefix)
        rate = {store: {mode: results[store][mode]["submitted_per_second"] for mode in MODES} for store in STORES}
        results["redis_over_sqlite"] = {mode: round(rate["redis"][mode] / rate["sqlite"][mode], 2) for mode in MODES}
    else:
        print(f"no Redis answers at {args.redis}: SQLite only", file=sys.stderr)
    results["loadavg_after"] = Path("/proc/loadavg").read_text().split()[:3]
    return results


def report(results: dict[str, Any]) -> None:
    stores = [store for store in STORES if store in results]
    print(f"{results['urls_per_round']} URLs a round, {results['rounds']} round(s); "
          f"PUT: {results['put_concurrency']} in flight; batches: {results['batch_concurrency']} in flight; "
          f"load {results['loadavg_before']}")  # fmt: skip
    print(f"| mode | {' | '.join(f'{s} URLs/s | {s} CPU us/URL | {s} x put' for s in stores)} |")
    for mode in MODES:
        cells = []
        for store in stores:
            figures = results[store][mode]
            ratio = "1.00" if mode == "put" else f"{results[store][f'{mode}_over_put']:.2f}"
            cells.append(f"{figures['submitted_per_second']:,.0f} | {figures['server_cpu_us_per_url']:.0f} | {ratio}x")
        print(f"| {mode} | {' | '.join(cells)} |")
    if "redis_over_sqlite" in results:
        print(f"Redis / SQLite: {results['redis_over_sqlite']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--urls", type=int, default=20_000, help="URLs per mode per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--put-concurrency", type=int, default=64)
    parser.add_argument("--batch-concurrency", type=int, default=4)
    parser.add_argument("--redis", default=DEFAULT_URL)
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds for one request")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="linkcast-bench-submit-") as scratch:
        results = asyncio.run(measure(args, Path(scratch)))
    report(results)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
