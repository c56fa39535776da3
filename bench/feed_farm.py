"""The feed bench's server: thousands of small feeds on loopback, most of them unchanged, spread over many ports.

``python -m bench.feed_farm --ports 20000,20001,... --stats-port P [--changing-every 10]``. Feed ``n`` is
``/feed/<n>`` on port ``ports[n % len(ports)]`` (``feed_url``), so feeds spread evenly over the ports, and each port is
a host of its own to a scheduler that keys politeness on ``host:port``. Every port binds 127.0.0.1 only.

- One feed in ``changing_every`` on each port (``(n // ports) % changing_every == 0``) changes between any two
  requests: every answer is a 200 with new validators and one new item beside four old ones, so each poll finds
  exactly one new entry.
- Every other feed never changes: a 200 with its fixed ETag and Last-Modified when asked without them (the first
  poll, counted as ``first``), a 304 when the request sends them back (RFC 9110 13.2.2: If-None-Match decides when
  present).

Several processes can serve the same ports (``SO_REUSEPORT``); each counts its own answers (200, 304, other) and
tells them at ``GET /stats`` on its own ``--stats-port``, so a bench counts the same way whatever polls.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
from pathlib import Path

import aiohttp
import orjson
from aiohttp import web
from tests.support.ports import free_port

from bench.processes import PYTHON, Process

LAST_MODIFIED = "Sat, 05 Dec 2026 12:00:00 GMT"
ITEMS_KEPT = 5


def feed_url(n: int, ports: list[int]) -> str:
    return f"http://127.0.0.1:{ports[n % len(ports)]}/feed/{n}"


def changes(n: int, ports: int, changing_every: int) -> bool:
    """Whether feed ``n`` changes on every request: one in ``changing_every`` of each port's feeds."""
    return (n // ports) % max(1, changing_every) == 0


def feed_body(n: int, newest: str | None) -> bytes:
    """An RSS 2.0 document of about 1 KB: ``ITEMS_KEPT`` items, the first ``newest`` if the feed changes."""
    guids = [f"{n}-old-{k}" for k in range(ITEMS_KEPT - (newest is not None))]
    if newest is not None:
        guids.insert(0, newest)
    items = "".join(
        f"<item><guid>{guid}</guid><title>Item {guid}</title><link>/entry/{guid}</link>"
        f"<description>About item {guid}.</description></item>"
        for guid in guids
    )
    return (
        f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>Feed {n}</title>'
        f"<link>/</link><description>Bench feed {n}</description>{items}</channel></rss>"
    ).encode()


class Farm:
    def __init__(self, ports: int, changing_every: int) -> None:
        self.ports = ports
        self.changing_every = max(1, changing_every)
        self.counts = {"200": 0, "304": 0, "first": 0, "other": 0}
        self._versions = itertools.count(1)
        self._prefix = f"p{os.getpid()}"  # processes sharing the ports never hand out the same version
        self._unchanged: dict[int, bytes] = {}

    async def serve(self, request: web.Request) -> web.Response:
        try:
            n = int(request.match_info["n"])
        except ValueError:
            self.counts["other"] += 1
            return web.Response(status=404)
        if changes(n, self.ports, self.changing_every):
            version = f"{self._prefix}-{next(self._versions)}"
            self.counts["200"] += 1
            headers = {"ETag": f'"{version}"', "Content-Type": "application/rss+xml"}
            return web.Response(body=feed_body(n, f"{n}-{version}"), headers=headers)
        etag = f'"{n}-v1"'
        validators = {"ETag": etag, "Last-Modified": LAST_MODIFIED}
        if_none_match = request.headers.get("If-None-Match")
        fresh = if_none_match == etag if if_none_match is not None else (
            request.headers.get("If-Modified-Since") == LAST_MODIFIED
        )  # fmt: skip
        if fresh:
            self.counts["304"] += 1
            return web.Response(status=304, headers=validators)
        self.counts["first"] += 1
        body = self._unchanged.get(n)
        if body is None:
            body = self._unchanged[n] = feed_body(n, None)
        return web.Response(body=body, headers={**validators, "Content-Type": "application/rss+xml"})

    async def stats(self, _request: web.Request) -> web.Response:
        return web.Response(body=orjson.dumps(self.counts), content_type="application/json")


async def serve(ports: list[int], stats_port: int, changing_every: int) -> None:
    farm = Farm(len(ports), changing_every)
    app = web.Application()
    app.router.add_get("/feed/{n}", farm.serve)
    stats = web.Application()
    stats.router.add_get("/stats", farm.stats)
    runners = [web.AppRunner(app, access_log=None), web.AppRunner(stats, access_log=None)]
    for runner in runners:
        await runner.setup()
    for port in ports:
        await web.TCPSite(runners[0], "127.0.0.1", port, reuse_port=True, backlog=1024).start()
    await web.TCPSite(runners[1], "127.0.0.1", stats_port).start()
    await asyncio.Event().wait()


class RunningFarm:
    """The farm's processes, started on ``hosts`` fresh ports, and the sum of their counts."""

    def __init__(self, hosts: int, processes: int, changing_every: int, logdir: Path) -> None:
        ports: set[int] = set()
        while len(ports) < hosts:
            ports.add(free_port())
        self.ports = sorted(ports)
        self.stats_ports = [free_port() for _ in range(processes)]
        self.changing_every = changing_every
        self.processes = [self._process(k, stats_port, logdir) for k, stats_port in enumerate(self.stats_ports)]

    def _process(self, k: int, stats_port: int, logdir: Path) -> Process:
        command = [PYTHON, "-m", "bench.feed_farm", "--ports", ",".join(map(str, self.ports)),
                   "--stats-port", str(stats_port), "--changing-every", str(self.changing_every)]  # fmt: skip
        return Process(f"feed-farm-{k}", command, logdir / "feed-farm.log")

    def urls(self, feeds: int) -> list[str]:
        return [feed_url(n, self.ports) for n in range(feeds)]

    def unchanging(self, feeds: int) -> int:
        """How many of the first ``feeds`` feeds never change (each answers one ``first`` 200, then 304s)."""
        return sum(not changes(n, len(self.ports), self.changing_every) for n in range(feeds))

    async def __aenter__(self) -> RunningFarm:
        for process in self.processes:
            process.start()
        try:
            for process, stats_port in zip(self.processes, self.stats_ports, strict=True):
                await process.ready_http(f"http://127.0.0.1:{stats_port}/stats")
            await self.processes[0].ready_http(feed_url(1, self.ports))
        except BaseException:
            self.stop()
            raise
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        for process in self.processes:
            process.stop()

    async def counts(self) -> dict[str, int]:
        """Answers given so far by every process: ``{"200": .., "304": .., "first": .., "other": ..}``."""
        total = {"200": 0, "304": 0, "first": 0, "other": 0}
        async with aiohttp.ClientSession() as session:
            for port in self.stats_ports:
                async with session.get(f"http://127.0.0.1:{port}/stats") as response:
                    for name, count in orjson.loads(await response.read()).items():
                        total[name] += count
        return total

    def cpu_seconds(self) -> float:
        return sum(process.cpu_seconds() for process in self.processes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--ports", required=True, help="comma-separated ports to serve the feeds on")
    parser.add_argument("--stats-port", type=int, required=True)
    parser.add_argument("--changing-every", type=int, default=10, help="one feed in N changes on every request")
    args = parser.parse_args()
    ports = [int(port) for port in args.ports.split(",")]
    try:
        import uvloop

        uvloop.run(serve(ports, args.stats_port, args.changing_every))
    except ImportError:  # pragma: no cover - uvloop is a linkcast dependency on Linux
        asyncio.run(serve(ports, args.stats_port, args.changing_every))


if __name__ == "__main__":
    main()
