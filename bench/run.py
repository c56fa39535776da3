"""``python -m bench.run`` (``make bench-run``): linkcast and its peers side by side in one go, then the table and plot.

In order, on one generated site served from memory on loopback: the ceilings (site server, fetch only, parse only,
fetch + parse), linkcast with 1, 10 and 100 WebSocket clients, a profiled linkcast crawl, the prototype's approach,
Scrapy at two concurrencies, a bare ``websockets`` broadcast of linkcast's own frames, the RSS of 1,000 idle clients,
and the parser benchmark. Writes ``results.md`` and ``results.json`` to ``--out`` and the plot to ``--plot``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.support.ports import free_port

from bench import report
from bench.bench_parser import CEILING, LINKCAST, PROTOTYPE, run_parser_bench
from bench.ceilings import measure_ceilings, percentile
from bench.fanout import measure_bare_broadcast, measure_idle_bare, measure_idle_service
from bench.processes import PYTHON, Process
from bench.profile import Recording, py_spy, summarise
from bench.services import (
    ClientRun,
    LoadShape,
    RunningService,
    linkcast_spec,
    linkcast_store_url,
    measure_service,
    prototype_spec,
    thread_deltas,
)
from bench.site import SiteShape, generate_site

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Config:
    pages: int
    page_bytes: int
    links: int
    clients: list[int]
    prototype_pages: int
    latency_requests: int
    latency_rate: float
    put_concurrency: int
    workers: int
    scrapy_concurrency: list[int]
    idle_clients: int
    site_processes: int
    parser_pages: int
    parser_mb: float
    parser_repeats: int
    profile: bool
    timeout: float
    repeats: int
    out: Path
    plot: Path | None


def parse_args(argv: list[str] | None = None) -> Config:
    def ints(text: str) -> list[int]:
        return [int(part) for part in text.split(",") if part]

    p = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__)
    p.add_argument("--pages", type=int, default=2000, help="pages of the generated site (default 2000)")
    p.add_argument("--page-kb", type=float, default=30.0, help="approximate size of a page in KB (default 30)")
    p.add_argument("--links", type=int, default=100, help="links per page (default 100)")
    p.add_argument("--clients", type=ints, default=[1, 10, 100], help="WebSocket client counts (default 1,10,100)")
    p.add_argument(
        "--prototype-pages",
        type=int,
        default=400,
        help="pages the prototype crawls (it is ~50x slower; a subset keeps the run short; default 400)",
    )
    p.add_argument("--latency-requests", type=int, default=200, help="paced requests for latency (default 200)")
    p.add_argument("--latency-rate", type=float, default=25.0, help="paced requests per second (default 25)")
    p.add_argument("--put-concurrency", type=int, default=64, help="PUTs in flight during a crawl (default 64)")
    p.add_argument("--workers", type=int, default=16, help="linkcast --workers and --per-host-concurrency (default 16)")
    p.add_argument("--scrapy-concurrency", type=ints, default=[16, 64], help="Scrapy CONCURRENT_REQUESTS runs")
    p.add_argument("--idle-clients", type=int, default=1000, help="idle WebSocket clients for RSS (default 1000)")
    p.add_argument("--site-processes", type=int, default=2, help="processes serving the site (default 2)")
    p.add_argument("--parser-pages", type=int, default=200, help="generated pages for the parser bench")
    p.add_argument("--parser-mb", type=float, default=8.0, help="MB of real-world HTML for the parser bench")
    p.add_argument("--parser-repeats", type=int, default=5, help="passes per fast parser (median)")
    p.add_argument(
        "--profile",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="profile a linkcast crawl with py-spy (default on)",
    )
    p.add_argument("--timeout", type=float, default=300.0, help="seconds allowed per phase")
    p.add_argument(
        "--repeats", type=int, default=2, help="crawls per system and setting; the fastest counts (default 2)"
    )
    p.add_argument("--out", type=Path, default=HERE / "results", help="folder for results.md/json")
    p.add_argument("--plot", default=str(HERE / "results.png"), help="PNG plot ('' for none)")
    a = p.parse_args(argv)
    return Config(
        pages=a.pages,
        page_bytes=int(a.page_kb * 1000),
        links=a.links,
        clients=a.clients,
        prototype_pages=min(a.prototype_pages, a.pages),
        latency_requests=a.latency_requests,
        latency_rate=a.latency_rate,
        put_concurrency=a.put_concurrency,
        workers=a.workers,
        scrapy_concurrency=a.scrapy_concurrency,
        idle_clients=a.idle_clients,
        site_processes=a.site_processes,
        parser_pages=a.parser_pages,
        parser_mb=a.parser_mb,
        parser_repeats=a.parser_repeats,
        profile=a.profile,
        timeout=a.timeout,
        repeats=a.repeats,
        out=a.out,
        plot=Path(a.plot) if a.plot else None,  # Path("") is ".", which wrote a ".png" in the working directory
    )


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


def service_figures(runs: list[ClientRun]) -> dict[str, Any]:
    """The figures of one system's runs, keyed by client count."""
    out: dict[str, Any] = {}
    for run in runs:
        ms_per_page = 1000 / run.crawl.requests if run.crawl.requests else 0.0  # CPU seconds -> ms per page
        out[str(run.clients)] = {
            "pages": run.crawl.requests,
            "pages_per_second": run.crawl.pages_per_second,
            "frames_per_second": run.crawl.frames_per_second,
            "crawl_seconds": run.crawl.seconds,
            "crawl_complete": run.crawl.complete,
            "crawl_failed": run.crawl.failed,
            "latency_p50_ms": percentile(run.latency.latencies, 0.50) * 1000,
            "latency_p99_ms": percentile(run.latency.latencies, 0.99) * 1000,
            "latency_samples": len(run.latency.latencies),
            "latency_complete": run.latency.complete,
            "latency_failed": run.latency.failed,
            "peak_rss_mb": run.peak_rss / 1e6,
            "cpu_ms_per_page": run.crawl_cpu * ms_per_page,
            "cpu_seconds": run.crawl_cpu,
            "frames": run.crawl.frames,
            "cpu_share_of_wall": run.crawl_cpu / run.crawl.seconds if run.crawl.seconds else 0.0,
            "driver_cpu_ms_per_page": run.driver_cpu * ms_per_page,
            "site_cpu_ms_per_page": run.site_cpu * ms_per_page,
            "thread_cpu_share_of_wall": {
                name: seconds / run.crawl.seconds for name, seconds in run.crawl_threads.items() if run.crawl.seconds
            },
        }
    return out


async def run_scrapy(urls: list[str], concurrency: int, workdir: Path) -> dict[str, Any]:
    urls_file = workdir / "urls.txt"
    urls_file.write_text("\n".join(urls))
    out = workdir / f"scrapy-{concurrency}.json"
    command = [
        PYTHON,
        "-m",
        "bench.peers.scrapy_peer",
        str(urls_file),
        "--concurrency",
        str(concurrency),
        "--out",
        str(out),
    ]
    process = Process(f"scrapy-{concurrency}", command, workdir / "scrapy.log").start()
    assert process.popen is not None
    returncode = await asyncio.to_thread(process.popen.wait)
    if returncode != 0 or not out.exists():
        process.check_alive()
        raise RuntimeError(f"Scrapy failed ({returncode}): see {workdir / 'scrapy.log'}")
    figures: dict[str, Any] = json.loads(out.read_text())
    figures["pages_per_second"] = figures["pages"] / figures["seconds"] if figures["seconds"] else 0.0
    figures["cpu_ms_per_page"] = figures["cpu_seconds"] * 1000 / figures["pages"] if figures["pages"] else 0.0
    figures["peak_rss_mb"] = figures.pop("peak_rss_bytes") / 1e6
    return figures


async def profile_linkcast(config: Config, urls: list[str], workdir: Path) -> str:
    """A separate linkcast crawl (1 client) with py-spy attached; the summary of where the time went."""
    import aiohttp

    from bench.driver import Clients, crawl

    if py_spy() is None:
        return "py-spy is not installed (.venv/bin/pip install py-spy): no profile.\n"
    connector = aiohttp.TCPConnector(limit=0)
    async with (
        RunningService(linkcast_spec(config.workers, max(1024, 4 * len(urls))), workdir) as service,
        aiohttp.ClientSession(connector=connector) as session,
    ):
        clients = await Clients.connect(session, service.ws_url, 1)
        try:
            await crawl(clients, service.base_url, urls[:20], "pwarm", 8, True, config.timeout)
            recording = Recording(service.process.pid, workdir / "profile.raw")
            await asyncio.sleep(0.5)  # py-spy attaches
            threads_before = service.process.thread_cpu()
            result = await crawl(clients, service.base_url, urls, "prof", config.put_concurrency, True, config.timeout)
            threads = thread_deltas(threads_before, service.process.thread_cpu())
            recording.stop()
        finally:
            await clients.close()
    head = f"linkcast crawl of {len(urls)} pages under py-spy: {result.pages_per_second:.0f} pages/s"
    if not result.complete:
        head += " (incomplete: timed out or the client was lost)"
    if result.failed:
        head += f" ({result.failed} pages ended in an error)"
    head += "\n"
    head += "CPU per thread, share of the crawl's wall time (psutil): " + ", ".join(
        f"{name} {seconds / result.seconds:.0%}"
        for name, seconds in threads.items()
        if seconds >= 0.005 * result.seconds
    )
    head += "\n"
    raw = workdir / "profile.raw"
    if not raw.exists() or not raw.stat().st_size:
        # py-spy needs to ptrace the server: a container without that permission gives no profile, not a failed run.
        return head + "py-spy recorded nothing (is ptrace allowed here?): no profile.\n"
    return head + summarise(raw)


async def run(config: Config) -> dict[str, Any]:
    began = time.monotonic()
    results: dict[str, Any] = {
        "config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(config).items()},
        "machine": {
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "cpus": _cpus(),
            "load_at_start": os.getloadavg()[0],
        },
    }
    workdir = Path(tempfile.mkdtemp(prefix="linkcast-bench-"))
    site_port = free_port()
    origin = f"http://127.0.0.1:{site_port}"
    shape = SiteShape(pages=config.pages, page_bytes=config.page_bytes, links_per_page=config.links)
    say(f"generating {config.pages} pages of ~{config.page_bytes // 1000} KB in {workdir}")
    urls = generate_site(workdir / "site", origin, shape)
    results["site"] = {"pages": len(urls), "bytes": sum(p.stat().st_size for p in (workdir / "site").rglob("*.html"))}
    site = [
        Process(
            f"site-{n}",
            [PYTHON, "-m", "bench.site", str(workdir / "site"), "--port", str(site_port)],
            workdir / "site.log",
        ).start()
        for n in range(config.site_processes)
    ]
    try:
        await site[0].ready_http(urls[0])
        shape_load = LoadShape(
            config.put_concurrency,
            config.latency_requests,
            config.latency_rate,
            timeout=config.timeout,
            crawl_repeats=config.repeats,
        )

        say("ceilings: site server, fetch only, parse only, fetch + parse")
        ceilings = await measure_ceilings(urls, config.put_concurrency, config.latency_requests, config.repeats)
        results["ceilings"] = vars(ceilings)

        queue = max(1024, 4 * (config.pages + config.latency_requests + 100))
        say(f"linkcast (store {linkcast_store_url(Path('<tmp>'))}) with {config.clients} clients")
        linkcast_runs = await measure_service(
            linkcast_spec(config.workers, queue), urls, config.clients, shape_load, workdir, True, site
        )
        results["linkcast"] = service_figures(linkcast_runs)
        results["linkcast_store"] = linkcast_store_url(Path("<tmp>")).split(":")[0]
        frames = linkcast_runs[0].frames_kept

        if config.profile:
            say("profiling a linkcast crawl with py-spy")
            results["profile"] = await profile_linkcast(config, urls, workdir)

        proto_urls = urls[: config.prototype_pages]
        say(f"prototype (Quart + hypercorn + requests + BeautifulSoup) on {len(proto_urls)} pages")
        proto_shape = LoadShape(
            config.put_concurrency,
            min(config.latency_requests, len(proto_urls)),
            config.latency_rate,
            warmup_requests=5,
            timeout=config.timeout,
            crawl_repeats=config.repeats,
        )
        results["prototype"] = service_figures(
            await measure_service(prototype_spec(), proto_urls, config.clients, proto_shape, workdir, False, site)
        )

        results["scrapy"] = {}
        for concurrency in config.scrapy_concurrency:
            say(f"Scrapy, CONCURRENT_REQUESTS={concurrency}")
            runs = [await run_scrapy(urls, concurrency, workdir) for _ in range(max(1, config.repeats))]
            results["scrapy"][str(concurrency)] = max(runs, key=lambda run: run["pages_per_second"])

        say(f"bare websockets broadcast of linkcast's {len(frames)} crawl frames to {config.clients} clients")
        bare = await measure_bare_broadcast(frames, config.clients, workdir, config.timeout)
        results["bare_websockets"] = {
            str(r.clients): {
                "frames_per_second": r.frames_per_second,
                "complete": r.complete,
                "cpu_us_per_frame": r.cpu_us_per_frame,
            }
            for r in bare
        }

        say(f"{config.idle_clients} idle WebSocket clients: RSS cost (linkcast, bare websockets)")
        idle = await measure_idle_service(linkcast_spec(config.workers), config.idle_clients, workdir)
        idle_bare = await measure_idle_bare(config.idle_clients, workdir)
        results["idle"] = {
            name: {
                "clients": i.clients,
                "connected": i.connected,
                "rss_before_mb": i.rss_before / 1e6,
                "rss_after_mb": i.rss_after / 1e6,
                "cost_mb": i.cost / 1e6,
            }
            for name, i in (("linkcast", idle), ("bare_websockets", idle_bare))
        }
    finally:
        for process in site:
            process.stop()

    say("parser benchmark: generated and real-world HTML")
    parser_results = await asyncio.to_thread(
        run_parser_bench, config.parser_pages, config.parser_mb, config.parser_repeats
    )
    results["parser"] = [
        {
            "corpus": r.corpus.name,
            "pages": len(r.corpus.pages),
            "mb": r.corpus.size / 1e6,
            "sources": r.corpus.sources,
            "rates": r.rates,
            "linkcast": r.rates[LINKCAST],
            "ceiling": r.rates[CEILING],
            "prototype": r.rates[PROTOTYPE],
            "share": r.extraction_vs_ceiling,
        }
        for r in parser_results
    ]
    results["seconds"] = time.monotonic() - began
    results["machine"]["load_at_end"] = os.getloadavg()[0]
    shutil.rmtree(workdir, ignore_errors=True)
    return results


def _cpus() -> int:
    return len(os.sched_getaffinity(0))


def main(argv: list[str] | None = None) -> None:
    config = parse_args(argv)
    try:
        import uvloop

        results = uvloop.run(run(config))
    except ImportError:  # pragma: no cover
        results = asyncio.run(run(config))
    config.out.mkdir(parents=True, exist_ok=True)
    (config.out / "results.json").write_text(json.dumps(results, indent=2))
    table = report.markdown(results)
    (config.out / "results.md").write_text(table)
    if "profile" in results:
        (config.out / "profile.txt").write_text(results["profile"])
    if config.plot is not None:
        report.plot(results, config.plot)
    print(table)
    say(
        f"done in {results['seconds']:.0f} s: {config.out / 'results.md'}" + (f", {config.plot}" if config.plot else "")
    )


if __name__ == "__main__":
    main()
