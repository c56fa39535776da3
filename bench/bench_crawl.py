"""``python -m bench.bench_crawl``: linkcast's crawls side by side with Scrapy's CrawlSpider and the fetch + parse
ceiling, worker processes on Redis, the memory a crawl of many queued URLs costs, and fairness to other hosts.

All in one run, on loopback only:

1. **Crawl pages/s** of the generated site (``bench.site``, 2,000 pages, from its first page, to the depth that
   covers every page) and of the real-world pages (documentation installed here, from an index page, depth 1), robots
   on (``bench.crawl_sites``): linkcast (``linkcast serve`` on SQLite, one process, ``--workers`` and
   ``--per-host-concurrency`` = ``--concurrency``), Scrapy's CrawlSpider (``bench.peers.scrapy_crawl_peer``,
   ``CONCURRENT_REQUESTS`` = ``--concurrency``, ``ROBOTSTXT_OBEY``), and the ceiling: a bare aiohttp client fetching
   the same pages (their list known in advance: no frontier, no robots) and extracting links with ``extract_links``,
   ``--concurrency`` in flight, in one process. Best of ``--repeats`` each.
2. **Worker processes on Redis**: the generated site crawled by ``linkcast serve --workers 0`` and 1, then 2,
   ``linkcast worker`` processes.
3. **A crawl with ``--queued`` URLs queued** (``bench.crawl_memory``), on SQLite and on Redis: the service's RSS and
   the store's bytes per queued and per visited URL; on SQLite also the p50/p99 of a single request to another host,
   submitted during that crawl, against the same on the idle service.

``--json PATH`` writes every figure; the table is printed. A tiny run, as the test suite does it
(``tests/bench/test_bench_crawl.py``): ``--pages 30 --real-mb 0.2 --repeats 1 --queued 300 --per-hub 100
--fairness-samples 5 --site-processes 1``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from tests.support.ports import free_port

from bench import crawl_report
from bench.ceilings import fetch_all, fetch_and_parse_all
from bench.crawl_memory import TreeSite, measure_queued
from bench.crawl_runs import CrawlRun, Deployment, best_crawl, crawl_body
from bench.crawl_sites import DENY_REGEX, EXCLUDE_PATTERN, CrawlSite, generated_site, real_world_site
from bench.processes import PYTHON, ROOT, Process
from bench.site import SiteShape

PARTS = ("crawl", "workers", "memory")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=2000, help="pages of the generated site")
    parser.add_argument("--page-bytes", type=int, default=30_000)
    parser.add_argument("--links", type=int, default=100, help="links per generated page")
    parser.add_argument("--real-mb", type=float, default=8.0, help="real-world HTML to serve, in MB")
    parser.add_argument("--concurrency", type=int, default=16, help="fetches in flight, for every crawler")
    parser.add_argument("--repeats", type=int, default=2, help="crawls of each kind; the fastest counts")
    parser.add_argument("--site-processes", type=int, default=2)
    parser.add_argument("--queued", type=int, default=100_000, help="URLs the memory crawl holds queued")
    parser.add_argument("--per-hub", type=int, default=1000, help="leaves per hub page of the memory crawl's site")
    parser.add_argument("--fairness-samples", type=int, default=200)
    parser.add_argument("--fairness-interval", type=float, default=0.02, help="seconds between single requests")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    parser.add_argument("--parts", default=",".join(PARTS), help=f"which parts to run, of {','.join(PARTS)}")
    parser.add_argument("--timeout", type=float, default=900.0)
    parser.add_argument("--json", type=Path)
    return parser.parse_args(argv)


def say(message: str) -> None:
    print(f"[bench_crawl] {message}", file=sys.stderr, flush=True)


def run_scrapy(site: CrawlSite, concurrency: int, workdir: Path) -> dict[str, Any]:
    out = workdir / f"scrapy-{uuid.uuid4().hex[:6]}.json"
    command = [
        PYTHON, "-m", "bench.peers.scrapy_crawl_peer", site.seed, "--depth", str(site.depth),
        "--concurrency", str(concurrency), "--deny", DENY_REGEX, "--out", str(out),
    ]  # fmt: skip
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"Scrapy failed: {done.stderr[-3000:]}")
    figures: dict[str, Any] = json.loads(out.read_text())
    figures["pages_per_second"] = figures["pages"] / figures["seconds"]
    figures["cpu_ms_per_page"] = figures["cpu_seconds"] * 1000 / max(1, figures["pages"])
    return figures


def crawl_figures(run: CrawlRun) -> dict[str, Any]:
    return {
        "pages": run.fetched,
        "failed": run.counts["failed"],
        "skipped": run.counts["skipped"],
        "seconds": run.seconds,
        "pages_per_second": run.pages_per_second,
        "cpu_ms_per_page": run.cpu_ms_per_page,
    }


async def ceiling(site: CrawlSite, concurrency: int, repeats: int) -> dict[str, float]:
    await fetch_all(site.urls[:200], concurrency)  # warm the site and the client
    rate, cpu = max([await fetch_and_parse_all(site.urls, concurrency) for _ in range(max(1, repeats))])
    return {"pages_per_second": rate, "cpu_ms_per_page": cpu}


def body_for(site: CrawlSite) -> dict[str, Any]:
    # max_pages leaves room above the site's pages, so a crawl that found more URLs would show it (not stop short).
    return crawl_body(site.seed, site.depth, len(site.urls) + 1000, [EXCLUDE_PATTERN])


async def measure_crawls(args: argparse.Namespace, sites: list[CrawlSite], workdir: Path) -> dict[str, Any]:
    results: dict[str, Any] = {}
    async with Deployment(f"sqlite:///{workdir / 'crawl.db'}", args.concurrency, workdir) as deployment:
        warm = crawl_body(sites[0].seed, 1, 20, [EXCLUDE_PATTERN])
        await best_crawl(deployment, "warm", warm, 1, args.timeout)
        for site in sites:
            say(f"{site.name}: ceiling, linkcast, Scrapy ({len(site.urls)} pages, depth {site.depth})")
            figures: dict[str, Any] = {
                "pages": len(site.urls), "reachable": site.reachable, "depth": site.depth, "mb": site.bytes / 1e6,
            }  # fmt: skip
            figures["ceiling"] = await ceiling(site, args.concurrency, args.repeats)
            run = await best_crawl(deployment, f"crawl-{site.name}", body_for(site), args.repeats, args.timeout)
            figures["linkcast"] = crawl_figures(run)
            scrapy_runs = [run_scrapy(site, args.concurrency, workdir) for _ in range(max(1, args.repeats))]
            figures["scrapy"] = max(scrapy_runs, key=lambda r: r["pages_per_second"])
            say(
                f"  pages/s: linkcast {run.pages_per_second:.0f}, Scrapy {figures['scrapy']['pages_per_second']:.0f}, "
                f"ceiling {figures['ceiling']['pages_per_second']:.0f}"
            )
            results[site.name] = figures
    return results


async def measure_workers(args: argparse.Namespace, site: CrawlSite, workdir: Path) -> dict[str, Any]:
    """The generated site crawled through one API replica with 1, then 2, worker processes."""
    results: dict[str, Any] = {}
    prefix = f"linkcast-crawlbench-{uuid.uuid4().hex[:8]}"
    async with Deployment(args.redis, args.concurrency, workdir, worker_processes=1, prefix=prefix) as deployment:
        for processes in (1, 2):
            if processes > len(deployment.workers):
                await deployment.add_worker()
            say(f"Redis: the generated site with {processes} worker process(es)")
            run = await best_crawl(deployment, f"workers{processes}", body_for(site), args.repeats, args.timeout)
            results[str(processes)] = crawl_figures(run)
            say(f"  {run.pages_per_second:.0f} pages/s")
    results["ratio_2_vs_1"] = results["2"]["pages_per_second"] / results["1"]["pages_per_second"]
    return results


async def measure_memory(args: argparse.Namespace, workdir: Path) -> dict[str, Any]:
    hubs = max(1, args.queued // args.per_hub)
    results: dict[str, Any] = {}
    async with TreeSite(hubs, args.per_hub, workdir) as site:
        say(f"SQLite: a crawl holding {hubs * args.per_hub} URLs queued; single requests to another host")
        fairness = (args.fairness_samples, args.fairness_interval)
        store = f"sqlite:///{workdir / 'memory.db'}"
        results["sqlite"] = await measure_queued(store, args.concurrency, site, workdir, fairness, args.timeout)
        say(f"Redis: a crawl holding {hubs * args.per_hub} URLs queued")
        await site.hold()
        results["redis"] = await measure_queued(args.redis, args.concurrency, site, workdir, None, args.timeout)
    return results


async def run(args: argparse.Namespace) -> dict[str, Any]:
    parts = set(args.parts.split(","))
    began = time.monotonic()
    results: dict[str, Any] = {
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
        "machine": {"cpus": len(os.sched_getaffinity(0)), "loadavg_start": Path("/proc/loadavg").read_text().strip()},
    }
    with tempfile.TemporaryDirectory(prefix="linkcast-bench-crawl-") as tmp:
        workdir = Path(tmp)
        port = free_port()
        origin = f"http://127.0.0.1:{port}"
        folder = workdir / "site"
        shape = SiteShape(pages=args.pages, page_bytes=args.page_bytes, links_per_page=args.links)
        say(f"generating {args.pages} pages and {args.real_mb} MB of real-world pages")
        sites = [generated_site(folder, origin, shape), real_world_site(folder, origin, int(args.real_mb * 1e6))]
        site_processes = [
            Process(f"site-{n}", [PYTHON, "-m", "bench.site", str(folder), "--port", str(port)], workdir / "site.log")
            for n in range(args.site_processes)
        ]
        try:
            for process in site_processes:
                process.start()
            await site_processes[0].ready_http(sites[0].seed)
            if "crawl" in parts:
                results["crawl"] = await measure_crawls(args, sites, workdir)
            if "workers" in parts:
                results["workers"] = await measure_workers(args, sites[0], workdir)
        finally:
            for process in site_processes:
                process.stop()
        if "memory" in parts:
            results["memory"] = await measure_memory(args, workdir)
    results["seconds"] = time.monotonic() - began
    results["machine"]["loadavg_end"] = Path("/proc/loadavg").read_text().strip()
    return results


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    results = asyncio.run(run(args))
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(results, indent=2))
    print(crawl_report.markdown(results))


if __name__ == "__main__":
    main()
