"""Event log throughput with fan-out, SQLite against the in-memory store side by side; and the slow-client costs.

``python -m bench.bench_store`` starts ``linkcast``'s app (uvicorn, uvloop, wsproto, exactly as ``linkcast serve``
configures it) in a child process with no workers and one extra route, ``POST /bench/publish``, that appends events
straight to the store with 16 concurrent appenders (as 16 workers would). WebSocket clients in this process count
the frames. Loopback only.

0. The store alone, in this process: appends/s with group commit, with a commit per append, and with aiosqlite.
1. Throughput: events/s from the first append to the last frame at the last of ``--clients`` clients, for
   ``memory://`` and ``sqlite:///`` in alternating rounds (the machine is shared: compare within a round); plus the
   append rate alone (no client).
2. Fan-out with and without permessage-deflate (uvicorn accepts it whenever a client offers it).
2b. Fan-out capacity against the reference, side by side in alternating rounds: the same frames published flat out
   to ``--clients`` clients by linkcast (memory store) and by a bare ``websockets`` broadcast server
   (``bench/bare_ws.py``); frames/s delivered to all clients, and the ratio per round. ``--only capacity`` runs
   this comparison alone.
3. Slow client: 5,000 events of ~10 KB to one healthy client, with and without a client that never reads; the
   server's RSS before and after, the healthy client's delivery time, the stalled client's close code.

Every size has an option (``--help``); ``--json PATH`` also writes every figure there. A tiny run, as the test suite
does it (``tests/bench/test_bench_runs.py``): ``--events 200 --append-events 1000 --clients 3 --rounds 1
--compression-events 200 --compression-rounds 1 --slow-events 2000 --slow-rounds 1`` (the stalled client is dropped
once its 1,024-event queue overflows, past what the sockets buffer: 2,000 events of 10 KB are enough).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import psutil
import websockets
from tests.support.ports import free_port

from bench.fanout import bare_server
from bench.processes import cpu_seconds

PYTHON = sys.executable
APPENDERS = 16


async def append_flat_out(store: Any, count: int, size: int) -> float:
    """Append ``count`` events of ``size`` bytes of padding, ``APPENDERS`` at once (as that many workers would);
    return the seconds it took."""
    from linkcast.core.events import Job, make_body

    job = Job("bench", "http://127.0.0.1/", 1)
    body = make_body("started", "bench", "http://127.0.0.1/", attempt=1, pad="x" * size)
    remaining = count

    async def append() -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            await store.append_started(job, body)

    began = time.perf_counter()
    await asyncio.gather(*(append() for _ in range(APPENDERS)))
    return time.perf_counter() - began


# -- the server side (child process) -----------------------------------------------------------------------------


def serve(store: str, port: int, queue_size: int) -> None:
    """The linkcast app with no workers and a route that appends events as fast as the store takes them."""
    import uvicorn
    from quart import Blueprint, request

    from linkcast.server import uvicorn_config
    from linkcast.settings import Settings
    from linkcast.web.app import create_app
    from linkcast.web.current import runtime

    # Publishing runs flat out, faster than any fan-out: per-client queues large enough to hold a whole run keep the
    # clients connected, so the figure is what fan-out sustains, not when the slow-client guard trips.
    settings = Settings(
        host="127.0.0.1", port=port, store=store, workers=0, log_level="warning", client_queue_size=queue_size
    )
    app = create_app(settings)
    bench = Blueprint("bench", __name__)

    @bench.post("/bench/publish")
    async def publish() -> dict[str, Any]:
        count, size = int(request.args["count"]), int(request.args["size"])
        return {"seconds": await append_flat_out(runtime().store, count, size)}

    app.register_blueprint(bench)
    uvicorn.Server(uvicorn_config(app, settings, port)).run()


# -- the client side -----------------------------------------------------------------------------------------------


class Server:
    """The child process above, on a free loopback port."""

    def __init__(self, store: str, queue_size: int = 1024) -> None:
        self.port = free_port()
        command = [PYTHON, "-m", "bench.bench_store", "--serve", store, "--port", str(self.port)]
        self.process = subprocess.Popen([*command, "--queue-size", str(queue_size)])
        self.base = f"http://127.0.0.1:{self.port}"

    async def ready(self) -> None:
        async with aiohttp.ClientSession() as session, asyncio.timeout(30):
            while True:
                try:
                    async with session.get(f"{self.base}/healthz") as response:
                        if response.status == 200:
                            return
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.05)

    async def publish(self, count: int, size: int) -> float:
        async with aiohttp.ClientSession() as session:
            url = f"{self.base}/bench/publish?count={count}&size={size}"
            async with session.post(url, timeout=aiohttp.ClientTimeout(total=600)) as response:
                seconds: float = (await response.json())["seconds"]
                return seconds

    def rss_mib(self) -> float:
        return psutil.Process(self.process.pid).memory_info().rss / 2**20

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


async def counting_client(
    url: str, count: int, connected: asyncio.Event | None = None, compression: str | None = None
) -> float:
    """Read ``count`` frames; return when the last one arrived (perf_counter)."""
    async with websockets.connect(url, max_size=None, compression=compression, open_timeout=30) as ws:
        if connected is not None:
            connected.set()
        for _ in range(count):
            await ws.recv()
        return time.perf_counter()


async def stalled_client(port: int) -> Any:
    """A client that never reads: a tiny receive buffer, its library stops reading after one message."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", port))
    url = f"ws://127.0.0.1:{port}/scraped_urls"
    return await websockets.connect(url, sock=sock, max_queue=1, max_size=None, compression=None)


@dataclass
class Throughput:
    store: str
    clients: int
    events: int
    append_seconds: float
    delivered_seconds: float
    server_cpu_seconds: float

    @property
    def delivered_rate(self) -> float:
        return self.events / self.delivered_seconds


async def measure_throughput(
    store: str, clients: int, events: int, size: int, compression: str | None = None
) -> Throughput:
    server = Server(store, queue_size=events + 16)
    try:
        await server.ready()
        url = f"ws://127.0.0.1:{server.port}/scraped_urls"
        connected = [asyncio.Event() for _ in range(clients)]
        readers = [asyncio.create_task(counting_client(url, events, ready, compression)) for ready in connected]
        for ready in connected:
            await asyncio.wait_for(ready.wait(), 30)
        cpu_before = cpu_seconds(server.process.pid)
        began = time.perf_counter()
        append_seconds = await server.publish(events, size)
        ends = await asyncio.wait_for(asyncio.gather(*readers), 600) if readers else [time.perf_counter()]
        cpu = cpu_seconds(server.process.pid) - cpu_before
        return Throughput(store.split(":")[0], clients, events, append_seconds, max(ends) - began, cpu)
    finally:
        server.stop()


async def bare_broadcast(clients: int, events: int, size: int, folder: Path) -> tuple[float, float]:
    """Seconds for a bare ``websockets`` broadcast server to get ``events`` frames, the same as linkcast's, to every
    one of ``clients`` clients, from the ``go`` to the last frame at the last client; and the server's CPU seconds."""
    from linkcast.core.events import make_body

    body = make_body("started", "bench", "http://127.0.0.1/", attempt=1, pad="x" * size)
    frames = [body.framed(n).json for n in range(1, events + 1)]
    async with bare_server(frames, folder) as (server, url):
        connected = [asyncio.Event() for _ in range(clients)]
        readers = [asyncio.create_task(counting_client(url, events, ready)) for ready in connected]
        for ready in connected:
            await asyncio.wait_for(ready.wait(), 30)
        async with websockets.connect(url, max_size=None, compression=None) as trigger:
            cpu_before = server.cpu_seconds()
            began = time.perf_counter()
            await trigger.send("go")
            # The trigger is a client too: it reads its copy, or the server would wait on its buffer.
            drain = asyncio.create_task(counting_client_on(trigger, events))
            ends = await asyncio.wait_for(asyncio.gather(*readers), 600)
            await asyncio.wait_for(drain, 600)
        return max(ends) - began, server.cpu_seconds() - cpu_before


async def counting_client_on(ws: Any, count: int) -> None:
    for _ in range(count):
        await ws.recv()


@dataclass
class SlowClientRun:
    stalled: bool
    rss_before: float
    rss_after: float
    delivery_seconds: float
    close_code: int | None


async def measure_slow_client(store: str, stalled: bool, events: int = 5000, size: int = 10_000) -> SlowClientRun:
    server = Server(store)
    try:
        await server.ready()
        slow = await stalled_client(server.port) if stalled else None
        connected = asyncio.Event()
        reader = asyncio.create_task(counting_client(f"ws://127.0.0.1:{server.port}/scraped_urls", events, connected))
        await asyncio.wait_for(connected.wait(), 30)
        rss_before = server.rss_mib()
        began = time.perf_counter()
        await server.publish(events, size)
        delivery = await asyncio.wait_for(reader, 600) - began
        rss_after = server.rss_mib()
        code = None
        if slow is not None:
            try:
                async with asyncio.timeout(30):
                    while True:
                        await slow.recv()
            except websockets.ConnectionClosed as closed:
                code = closed.rcvd.code if closed.rcvd else None
            except TimeoutError:
                code = None
            await slow.close()
        return SlowClientRun(stalled, rss_before, rss_after, delivery, code)
    finally:
        server.stop()


async def store_append_rate(url: str, events: int, max_group: int | None = None) -> float:
    """Appends/s straight into a store (no server), ``APPENDERS`` at once; ``max_group=1``: a commit per append."""
    from linkcast.settings import Settings
    from linkcast.store import open_store
    from linkcast.store.sqlite import thread as sqlite_thread

    saved = sqlite_thread.MAX_GROUP
    sqlite_thread.MAX_GROUP = max_group or saved
    store = open_store(Settings(store=url))
    await store.open()
    try:
        return events / await append_flat_out(store, events, 500)
    finally:
        await store.close()
        sqlite_thread.MAX_GROUP = saved


async def aiosqlite_append_rate(path: Path, events: int) -> float:
    """The plain way for reference: aiosqlite, the same table, an INSERT and a COMMIT per append."""
    import aiosqlite

    from linkcast.store.sqlite.schema import SCHEMA

    async with aiosqlite.connect(path) as db:
        await db.execute("PRAGMA journal_mode = WAL")
        await db.execute("PRAGMA synchronous = NORMAL")
        await db.executescript(SCHEMA)
        remaining = events
        lock = asyncio.Lock()  # one transaction at a time on the shared connection

        async def append() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                async with lock:
                    await db.execute(
                        "INSERT INTO events (type, request_id, created_at, body) VALUES (?, ?, ?, ?)",
                        ("started", "bench", time.time(), b"x" * 560),
                    )
                    await db.commit()

        began = time.perf_counter()
        await asyncio.gather(*(append() for _ in range(APPENDERS)))
        return events / (time.perf_counter() - began)


STORE_ALONE = ("memory", "sqlite_group_commit", "sqlite_commit_per_append", "aiosqlite_commit_per_append")


async def compare_commit_strategies(folder: Path, events: int, rounds: int) -> list[dict[str, float]]:
    """Appends/s of each way to store events, one dict per round."""
    print(f"store alone, {APPENDERS} concurrent appenders, {events:,} events (appends/s)")
    print("| round | memory | sqlite, group commit | sqlite, a commit per append | aiosqlite, a commit per append |")
    out = []
    for round_number in range(rounds):
        figures = [await store_append_rate("memory://", events)]
        for index, max_group in enumerate((None, 1)):
            figures.append(
                await store_append_rate(f"sqlite:///{folder}/alone{round_number}-{index}.db", events, max_group)
            )
        figures.append(await aiosqlite_append_rate(folder / f"aiosqlite{round_number}.db", events))
        print(f"| {round_number + 1} | " + " | ".join(f"{figure:,.0f}" for figure in figures) + " |", flush=True)
        out.append(dict(zip(STORE_ALONE, figures, strict=True)))
    return out


async def main(args: argparse.Namespace) -> dict[str, Any]:
    """Every part in turn (or ``--only capacity``); the figures of each, as printed. The databases (tens of MB) go in
    a temporary folder, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="linkcast-bench-store-") as tmp:
        return await measure_parts(args, Path(tmp))


async def measure_parts(args: argparse.Namespace, folder: Path) -> dict[str, Any]:
    stores = {"memory": "memory://", "sqlite": f"sqlite:///{folder}/bench.db"}
    figures: dict[str, Any] = {"clients": args.clients, "events": args.events, "size": args.size}
    if args.only == "capacity":
        figures["capacity"] = await compare_fan_out_capacity(args, folder)
        return figures
    figures["store_alone"] = await compare_commit_strategies(folder, args.append_events // 2, args.rounds)
    print()
    rows: list[Throughput] = []
    for round_number in range(args.rounds):
        for name, url in stores.items():
            if name == "sqlite":
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{folder}/bench.db{suffix}").unlink(missing_ok=True)
            for clients, events in ((0, args.append_events), (args.clients, args.events)):
                run = await measure_throughput(url, clients, events, args.size)
                rows.append(run)
                figures.setdefault("throughput", []).append(
                    {
                        "round": round_number + 1,
                        "store": name,
                        "clients": clients,
                        "events": events,
                        "append_per_second": events / run.append_seconds,
                        "delivered_per_second": run.delivered_rate,
                    }
                )
                print(
                    f"round {round_number + 1} {name:<6} clients={clients:<3}"
                    f" append {events / run.append_seconds:9,.0f} ev/s   delivered {run.delivered_rate:9,.0f} ev/s",
                    flush=True,
                )
    print("\nmedians (events/s)")
    print("| store | append, no client | append + fan-out to", args.clients, "clients |")
    for name in stores:
        alone = statistics.median(r.events / r.append_seconds for r in rows if r.store == name and not r.clients)
        fanned = statistics.median(r.delivered_rate for r in rows if r.store == name and r.clients)
        print(f"| {name} | {alone:,.0f} | {fanned:,.0f} |")
        figures.setdefault("throughput_medians", {})[name] = {"append": alone, "append_and_fan_out": fanned}
    for clients in (0, args.clients):
        pick = [r for r in rows if r.clients == clients]
        ratios = [
            s.delivered_rate / m.delivered_rate
            for s, m in zip(
                [r for r in pick if r.store == "sqlite"], [r for r in pick if r.store == "memory"], strict=True
            )
        ]
        print(f"sqlite / memory, {clients} clients, per round: {', '.join(f'{r:.2f}' for r in ratios)}")
        figures.setdefault("sqlite_vs_memory_per_round", {})[str(clients)] = ratios

    print(f"\npermessage-deflate, memory store, {args.clients} clients, {args.compression_events:,} events")
    figures["compression"] = []
    for _round in range(args.compression_rounds):
        for compression in (None, "deflate"):
            run = await measure_throughput("memory://", args.clients, args.compression_events, args.size, compression)
            print(
                f"compression={compression!s:<8} {run.delivered_rate:7,.0f} ev/s delivered,"
                f" server CPU {run.server_cpu_seconds:.1f} s",
                flush=True,
            )
            figures["compression"].append(
                {
                    "compression": compression,
                    "delivered_per_second": run.delivered_rate,
                    "server_cpu_seconds": run.server_cpu_seconds,
                }
            )

    figures["capacity"] = await compare_fan_out_capacity(args, folder)
    figures["slow_client"] = await compare_slow_clients(stores["sqlite"], args)
    return figures


def per_frame_ratio(mine: float, reference: float) -> float | None:
    """``mine / reference``, or None when the reference read zero (CPU is counted in ticks: a tiny run may read 0)."""
    return mine / reference if reference else None


async def compare_fan_out_capacity(args: argparse.Namespace, folder: Path) -> list[dict[str, float | None]]:
    print(
        f"\nfan-out capacity, {args.clients} clients, {args.events} events: linkcast (memory store) and bare websockets"
    )
    out: list[dict[str, float | None]] = []
    for _round in range(args.rounds):
        linkcast_run = await measure_throughput("memory://", args.clients, args.events, args.size)
        bare_seconds, bare_cpu = await bare_broadcast(args.clients, args.events, args.size, folder)
        frames = args.events * args.clients
        linkcast_fps, bare_fps = frames / linkcast_run.delivered_seconds, frames / bare_seconds
        # Both servers share the 2 cores with the clients' process, which can be what limits frames/s; the server
        # CPU a frame says what each server would reach with the clients elsewhere.
        linkcast_us, bare_us = linkcast_run.server_cpu_seconds * 1e6 / frames, bare_cpu * 1e6 / frames
        cpu_ratio = per_frame_ratio(linkcast_us, bare_us)
        print(
            f"linkcast {linkcast_fps:9,.0f} frames/s {linkcast_us:5.1f} us CPU a frame   "
            f"bare websockets {bare_fps:9,.0f} frames/s {bare_us:5.1f} us   "
            f"ratio frames/s {linkcast_fps / bare_fps:.2f}, CPU a frame "
            + (f"{cpu_ratio:.2f}" if cpu_ratio is not None else "- (no CPU tick read)"),
            flush=True,
        )
        out.append(
            {
                "linkcast_frames_per_second": linkcast_fps,
                "linkcast_cpu_us_per_frame": linkcast_us,
                "bare_frames_per_second": bare_fps,
                "bare_cpu_us_per_frame": bare_us,
                "ratio_frames_per_second": linkcast_fps / bare_fps,
                "ratio_cpu_per_frame": cpu_ratio,
            }
        )
    return out


async def compare_slow_clients(store: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    print(
        f"\nslow client: {args.slow_events:,} events of ~{args.slow_size / 1000:g} KB, sqlite store,"
        " 1,024-event client queue"
    )
    out = []
    for _round in range(args.slow_rounds):
        for stalled in (False, True):
            run = await measure_slow_client(store, stalled, args.slow_events, args.slow_size)
            print(
                f"stalled={run.stalled!s:<5} RSS {run.rss_before:6.1f} -> {run.rss_after:6.1f} MiB"
                f"  healthy client got all in {run.delivery_seconds:6.3f} s  stalled close code {run.close_code}",
                flush=True,
            )
            out.append(
                {
                    "stalled": run.stalled,
                    "rss_before_mib": run.rss_before,
                    "rss_after_mib": run.rss_after,
                    "delivery_seconds": run.delivery_seconds,
                    "close_code": run.close_code,
                }
            )
    return out


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=5_000, help="events published to the clients")
    parser.add_argument("--append-events", type=int, default=50_000, help="events appended with no client")
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--size", type=int, default=500, help="padding per event (bytes)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of the store, throughput and capacity parts")
    parser.add_argument("--compression-events", type=int, default=3_000, help="events of the compression part")
    parser.add_argument("--compression-rounds", type=int, default=2)
    parser.add_argument("--slow-events", type=int, default=5_000, help="events of the slow-client part")
    parser.add_argument("--slow-size", type=int, default=10_000, help="padding per event of the slow-client part")
    parser.add_argument("--slow-rounds", type=int, default=2, help="runs of the slow-client part, without and with")
    parser.add_argument("--only", choices=["capacity"], help="run only the fan-out capacity comparison")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--serve", metavar="STORE", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--queue-size", type=int, default=1024, help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.serve:
        serve(arguments.serve, arguments.port, arguments.queue_size)
    else:
        os.environ.setdefault("PYTHONUNBUFFERED", "1")
        results = asyncio.run(main(arguments))
        if arguments.json:
            arguments.json.parent.mkdir(parents=True, exist_ok=True)
            arguments.json.write_text(json.dumps(results, indent=2))
