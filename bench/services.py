"""End-to-end runs of a service that speaks the prototype's API: linkcast and the prototype's approach.

For each client count, a fresh server process (so its peak RSS is that run's): connect the clients, warm up, a paced
phase for latency (no backlog), then the crawl of every page with concurrent ``PUT``s for pages/s and frames/s.
"""

from __future__ import annotations

import importlib.util
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from tests.support.ports import free_port

from bench.driver import Clients, LoadResult, crawl, paced
from bench.processes import PYTHON, Process


@dataclass(frozen=True)
class LoadShape:
    """How hard each phase pushes."""

    put_concurrency: int = 64
    latency_requests: int = 200
    latency_rate: float = 25.0
    warmup_requests: int = 20
    crawl_repeats: int = 2  # latency phases and crawls per server; the better one counts
    timeout: float = 300.0


@dataclass
class ServiceSpec:
    """How to start a service and what its stream promises."""

    name: str
    command: Callable[[int, Path], list[str]]  # (port, scratch folder) -> argv
    health_path: str | None  # None: wait for the port to accept connections
    every_client: bool  # every client receives every result (linkcast), or one client each (the prototype)


@dataclass
class ClientRun:
    """One fresh server measured with ``clients`` WebSocket clients."""

    clients: int
    latency: LoadResult
    crawl: LoadResult
    peak_rss: int
    frames_kept: list[str] = field(default_factory=list)
    crawl_cpu: float = 0.0  # CPU seconds the server (and its children) used during the crawl
    crawl_threads: dict[str, float] = field(default_factory=dict)  # CPU seconds per thread during the crawl
    # What the rest of the pipeline used during the same crawl, on the same cores: the load driver (this process)
    # and the site's server processes.
    driver_cpu: float = 0.0
    site_cpu: float = 0.0


def linkcast_store_url(folder: Path) -> str:
    """SQLite in the scratch folder, the default deployment; the memory store only if SQLite is not built yet."""
    if importlib.util.find_spec("linkcast.store.sqlite") is not None:
        return f"sqlite:///{folder / 'linkcast.db'}"
    return "memory://"


def linkcast_spec(workers: int, queue_size: int = 1024) -> ServiceSpec:
    """linkcast with politeness off (as in Scrapy's runs) and ``queue_size`` events buffered per client.

    The bench's clients all live in one process, which at 100 clients reads slower than linkcast sends: the crawl
    gives each client a queue that holds the whole crawl's events, so none is dropped as too slow.
    """

    def command(port: int, folder: Path) -> list[str]:
        flags = {
            "--host": "127.0.0.1",
            "--port": str(port),
            "--store": linkcast_store_url(folder),
            "--log-level": "warning",
            "--workers": str(workers),
            "--per-host-concurrency": str(workers),
            "--client-queue-size": str(queue_size),
            "--rate-limit": "0",  # one load driver submits for every simulated client: no per-client limit
        }
        return [PYTHON, "-m", "linkcast", "serve", "--allow-private-networks", *sum(flags.items(), ())]

    return ServiceSpec("linkcast", command, "/healthz", every_client=True)


def prototype_spec() -> ServiceSpec:
    def command(port: int, folder: Path) -> list[str]:
        return [PYTHON, "-m", "bench.peers.prototype", "--port", str(port)]

    return ServiceSpec("prototype", command, None, every_client=False)


class RunningService:
    """A started service and its URLs."""

    def __init__(self, spec: ServiceSpec, logdir: Path) -> None:
        self.spec = spec
        self.port = free_port()
        self.scratch = Path(tempfile.mkdtemp(prefix=f"bench-{spec.name}-", dir=logdir))
        self.process = Process(spec.name, spec.command(self.port, self.scratch), logdir / f"{spec.name}.log")

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/scraped_urls"

    async def __aenter__(self) -> RunningService:
        self.process.start()
        try:
            if self.spec.health_path is not None:
                await self.process.ready_http(self.base_url + self.spec.health_path)
            else:
                await self.process.ready_tcp(self.port)
        except BaseException:
            self.process.stop()
            raise
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self.process.stop()


def _p99(run: LoadResult) -> float:
    ordered = sorted(run.latencies)
    return ordered[int(0.99 * (len(ordered) - 1))] if ordered else float("inf")


@dataclass
class CrawlCpu:
    """CPU seconds used so far (or during a crawl) by the server (with its children), the driver and the site."""

    server: float
    driver: float
    site: float

    @classmethod
    def now(cls, server: Process, site: Sequence[Process]) -> CrawlCpu:
        return cls(server.cpu_seconds(), time.process_time(), sum(process.cpu_seconds() for process in site))

    def minus(self, before: CrawlCpu) -> CrawlCpu:
        return CrawlCpu(self.server - before.server, self.driver - before.driver, self.site - before.site)


def thread_deltas(before: dict[int, float], after: dict[int, float]) -> dict[str, float]:
    """CPU seconds each thread used between two readings, the main thread (lowest id) named ``main``."""
    if not after:
        return {}
    main = min(after)
    return {
        ("main" if tid == main else f"thread {tid}"): seconds - before.get(tid, 0.0)
        for tid, seconds in sorted(after.items())
        if seconds - before.get(tid, 0.0) > 0.005
    }


async def measure_clients(
    spec: ServiceSpec,
    urls: Sequence[str],
    clients: int,
    shape: LoadShape,
    logdir: Path,
    keep_frames: bool = False,
    site: Sequence[Process] = (),
) -> ClientRun:
    """One fresh server, ``clients`` clients: warm-up, the paced latency phase, then the crawl.

    ``site`` are the processes serving the pages, whose CPU during the crawl is noted beside the server's."""
    connector = aiohttp.TCPConnector(limit=0)
    async with RunningService(spec, logdir) as service, aiohttp.ClientSession(connector=connector) as session:
        listeners = await Clients.connect(session, service.ws_url, clients, keep_first=keep_frames)
        try:
            every = spec.every_client
            warm = list(urls[: shape.warmup_requests])
            await crawl(listeners, service.base_url, warm, f"warm{clients}", 8, every, shape.timeout)
            if listeners.listeners[0].keep is not None:
                listeners.listeners[0].keep.clear()
            sample = [urls[(n * 7919) % len(urls)] for n in range(shape.latency_requests)]
            latency: LoadResult | None = None
            for attempt in range(max(1, shape.crawl_repeats)):
                prefix = f"lat{clients}.{attempt}"
                run = await paced(listeners, service.base_url, sample, prefix, shape.latency_rate, every, shape.timeout)
                # The steadier run (lower p99) counts, for the same reason as the crawls; one with every page done
                # before one where some ended in an error.
                if latency is None or (run.complete, -run.failed, -_p99(run)) > (
                    latency.complete,
                    -latency.failed,
                    -_p99(latency),
                ):
                    latency = run
            assert latency is not None
            best: tuple[LoadResult, CrawlCpu, dict[str, float], list[str]] | None = None
            for attempt in range(max(1, shape.crawl_repeats)):
                kept_from = len(listeners.listeners[0].keep or [])
                before, threads_before = CrawlCpu.now(service.process, site), service.process.thread_cpu()
                prefix = f"crawl{clients}.{attempt}"
                load = await crawl(listeners, service.base_url, urls, prefix, shape.put_concurrency, every,
                                   shape.timeout)  # fmt: skip
                cpu = CrawlCpu.now(service.process, site).minus(before)
                threads = thread_deltas(threads_before, service.process.thread_cpu())
                frames = (listeners.listeners[0].keep or [])[kept_from:]
                # The fastest complete crawl: on a shared machine, the others were slowed by someone else. Failed
                # pages end sooner than fetched ones: a crawl with fewer of them comes first.
                if best is None or (load.complete, -load.failed, load.pages_per_second) > (
                    best[0].complete,
                    -best[0].failed,
                    best[0].pages_per_second,
                ):
                    best = (load, cpu, threads, frames)
                if not load.complete:
                    break
            assert best is not None
            load, cpu, threads, frames = best
            return ClientRun(clients, latency, load, service.process.peak_rss(), frames, cpu.server, threads,
                             cpu.driver, cpu.site)  # fmt: skip
        finally:
            await listeners.close()


async def measure_service(
    spec: ServiceSpec,
    urls: Sequence[str],
    client_counts: Sequence[int],
    shape: LoadShape,
    logdir: Path,
    keep_frames: bool = False,
    site: Sequence[Process] = (),
) -> list[ClientRun]:
    runs = []
    for count in client_counts:
        keep = keep_frames and count == client_counts[0]
        runs.append(await measure_clients(spec, urls, count, shape, logdir, keep, site))
    return runs
