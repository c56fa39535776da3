"""The ceilings on this machine: what bare tools reach on the same pages with none of a service's work.

Every page must answer 200 (an error page is small and fast, and would raise the ceiling): anything else fails the run.

- the site server alone (``wrk``, if installed): shows the site is not the bottleneck;
- fetch only: a bare aiohttp client fetching every page, no parsing;
- parse only: linkcast's ``extract_links`` on every page, no network;
- fetch + parse in one process (aiohttp + ``extract_links``): what a single-process service could reach at best;
- fetch + parse latency of one page at a time: the floor for the PUT-to-frame latency.
"""

from __future__ import annotations

import asyncio
import re
import shutil
import statistics
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass

import aiohttp

from linkcast.core.links import extract_links


@dataclass
class Ceilings:
    site_requests_per_second: float | None  # None: wrk is not installed
    fetch_pages_per_second: float
    parse_pages_per_second: float
    parse_mb_per_second: float
    fetch_parse_pages_per_second: float
    fetch_parse_cpu_ms_per_page: float  # client side only: the site server's CPU is not counted
    fetch_parse_p50: float  # seconds
    fetch_parse_p99: float


def percentile(values: Sequence[float], fraction: float) -> float:
    """The ``fraction`` quantile (nearest rank) of ``values``; 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(fraction * len(ordered)) - 1))]


def wrk_requests_per_second(url: str, seconds: float = 3.0, connections: int = 64) -> float | None:
    """The site server's requests/s for one page under ``wrk``; None without wrk."""
    binary = shutil.which("wrk")
    if binary is None:
        return None
    command = [binary, "-t2", f"-c{connections}", f"-d{max(1, round(seconds))}s", url]
    out = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 30).stdout
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return float(found.group(1)) if found else None


async def fetch_all(urls: Sequence[str], concurrency: int) -> tuple[float, list[bytes]]:
    """Fetch every URL with ``concurrency`` in flight; (pages/s, bodies)."""
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, raise_for_status=True) as session:

        async def get(url: str) -> bytes:
            async with session.get(url) as response:
                return await response.read()

        began = time.perf_counter()
        bodies = await asyncio.gather(*(get(url) for url in urls))
        return len(urls) / (time.perf_counter() - began), list(bodies)


async def fetch_and_parse_all(urls: Sequence[str], concurrency: int) -> tuple[float, float]:
    """(pages/s, CPU ms/page) of fetch + ``extract_links`` in one process, ``concurrency`` fetches in flight."""
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector, raise_for_status=True) as session:

        async def one(url: str) -> None:
            async with session.get(url) as response:
                extract_links(await response.read(), url, response.headers.get("Content-Type"))

        began, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(one(url) for url in urls))
        elapsed, cpu = time.perf_counter() - began, time.process_time() - cpu
        return len(urls) / elapsed, cpu * 1000 / len(urls)


async def one_at_a_time(urls: Sequence[str]) -> list[float]:
    """Seconds to fetch and parse each page, one after the other (no contention): the latency floor."""
    times = []
    async with aiohttp.ClientSession(raise_for_status=True) as session:
        for url in urls:
            began = time.perf_counter()
            async with session.get(url) as response:
                extract_links(await response.read(), url, response.headers.get("Content-Type"))
            times.append(time.perf_counter() - began)
    return times


def parse_rate(urls: Sequence[str], bodies: Sequence[bytes]) -> tuple[float, float]:
    """(pages/s, MB/s) of ``extract_links`` alone, best of three passes."""
    best = float("inf")
    for _ in range(3):
        began = time.perf_counter()
        for url, body in zip(urls, bodies, strict=True):
            extract_links(body, url, "text/html; charset=utf-8")
        best = min(best, time.perf_counter() - began)
    return len(urls) / best, sum(map(len, bodies)) / best / 1e6


async def measure_ceilings(urls: Sequence[str], concurrency: int, latency_samples: int, repeats: int = 1) -> Ceilings:
    """Every ceiling; the rates are the best of ``repeats`` runs (others' load only ever slows a run down)."""
    site = await asyncio.to_thread(wrk_requests_per_second, urls[0])
    await fetch_all(urls[: min(len(urls), 200)], concurrency)  # warm the server and the client
    fetched = [await fetch_all(urls, concurrency) for _ in range(max(1, repeats))]
    fetch_rate, bodies = max(fetched, key=lambda run: run[0])
    parse_pages, parse_mb = parse_rate(urls, bodies)
    both, both_cpu = max([await fetch_and_parse_all(urls, concurrency) for _ in range(max(1, repeats))])
    sample = [urls[(n * 7919) % len(urls)] for n in range(latency_samples)]
    times = await one_at_a_time(sample)
    return Ceilings(
        site_requests_per_second=site,
        fetch_pages_per_second=fetch_rate,
        parse_pages_per_second=parse_pages,
        parse_mb_per_second=parse_mb,
        fetch_parse_pages_per_second=both,
        fetch_parse_cpu_ms_per_page=both_cpu,
        fetch_parse_p50=statistics.median(times),
        fetch_parse_p99=percentile(times, 0.99),
    )
