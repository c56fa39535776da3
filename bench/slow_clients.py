"""Hostile clients of the HTTP server itself, for ``bench_hostile.py``: slow request heads (slowloris) from many or
one loopback addresses, and oversized request heads.

A slowloris connection sends a request line, then one header line every few seconds, never ending its head; when
the server cuts it, the attacker opens another. Meanwhile a well-behaved client on 127.0.0.1 asks ``/healthz`` on a
new connection every 50 ms. Loopback only: attackers use source addresses in 127.0.0.0/8.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import time
from dataclasses import dataclass, field

import aiohttp
from tests.support.raw_http import RawClient
from tests.support.service import Service

HEAD = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
LINE = b"X-Slow: 1\r\n"
# A connection the server closed sooner than this was refused (closed as soon as accepted; the client may notice
# late when it shares the CPUs with the server), one it closed later had been held and was cut.
HELD_AFTER = 3.0
# A connection still open this long after it opened is held (a refusal arrives within milliseconds).
SETTLED = 1.0
HEALTHZ_TIMEOUT = 5.0


@dataclass
class Slowloris:
    """Keeps ``target`` slow connections open to ``port``, ``per_address`` from each of 127.0.<b>.<c>."""

    port: int
    per_address: int
    line_every: float = 5.0
    first_address: int = 2  # 127.0.0.2: the well-behaved client keeps 127.0.0.1
    target: int = 0
    open: list[RawClient] = field(default_factory=list)
    cut: list[RawClient] = field(default_factory=list)  # closed by the server after it had been admitted
    refused: int = 0  # closed before it could send a header line
    attempts: int = 0
    most_open: int = 0  # the most connections seen held (open for SETTLED seconds or more)

    def address(self, n: int) -> str:
        index = self.first_address + n // self.per_address
        return f"127.0.{index // 250}.{index % 250 + 1}"

    async def top_up(self) -> None:
        """One pass: open as many connections as are missing to ``target``; those refused wait for the next pass."""
        self.prune()
        missing = self.target - len(self.open)
        for start in range(0, missing, 500):
            batch = min(500, missing - start)
            fresh = await asyncio.gather(*(self._connect() for _ in range(batch)), return_exceptions=True)
            for client in fresh:
                if isinstance(client, RawClient) and await client.send(HEAD):
                    self.open.append(client)
                else:
                    self.refused += 1
            self.prune()

    def prune(self) -> None:
        """Forget the connections the server closed: cut if it had held them, refused if it closed them at once."""
        for client in [c for c in self.open if not c.is_open]:
            self.open.remove(client)
            if client.lifetime > HELD_AFTER:
                self.cut.append(client)
            else:
                self.refused += 1
        held = sum(client.lifetime >= SETTLED for client in self.open)
        self.most_open = max(self.most_open, held)

    async def _connect(self) -> RawClient:
        n = self.attempts % max(1, self.target)
        self.attempts += 1
        return await RawClient.open(self.port, self.address(n))

    async def run(self, stop: asyncio.Event) -> None:
        """Every ``line_every`` s: reopen what the server closed, and send one more header line on each connection."""
        while not stop.is_set():
            await self.top_up()
            for client in list(self.open):
                await client.send(LINE)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.line_every)

    def close(self) -> None:
        for client in self.open:
            client.close()


async def healthz_latencies(service: Service, seconds: float) -> tuple[list[float], int]:
    """``/healthz`` from 127.0.0.1 on a new connection every 50 ms for ``seconds``: (latencies, failures)."""
    times: list[float] = []
    failures = 0
    deadline = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(force_close=True)
    async with aiohttp.ClientSession(connector=connector) as session:
        while time.monotonic() < deadline:
            began = time.perf_counter()
            try:
                timeout = aiohttp.ClientTimeout(total=HEALTHZ_TIMEOUT)
                async with session.get(f"{service.base_url}/healthz", timeout=timeout) as response:
                    await response.read()
                    ok = response.status == 200
            except (aiohttp.ClientError, TimeoutError):
                ok = False
            if ok:
                times.append(time.perf_counter() - began)
            else:
                failures += 1
            await asyncio.sleep(0.05)
    return times, failures


def latency_summary(times: list[float], failures: int) -> str:
    if not times:
        return f"no answer ({failures} failed)"
    ms = sorted(t * 1000 for t in times)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    return f"median {statistics.median(ms):.1f} ms, p99 {p99:.1f} ms, max {ms[-1]:.0f} ms, {failures} failed"


def lifetimes_summary(clients: list[RawClient]) -> str:
    if not clients:
        return "none cut"
    seconds = sorted(client.lifetime for client in clients)
    return f"{len(seconds)} cut after {seconds[0]:.2f} to {seconds[-1]:.2f} s (median {statistics.median(seconds):.2f})"


async def oversized_heads(service: Service, connections: int, size: int) -> list[bool]:
    """``connections`` clients each streaming a ``size``-byte header; whether each was refused (431 or closed)."""
    attackers = [await RawClient.open(service.port, f"127.0.0.{n + 2}") for n in range(connections)]
    head, filler = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ", b"a" * 1024 * 1024
    async with asyncio.timeout(300):
        await asyncio.gather(*(client.stream(head, filler, size) for client in attackers))
        await client_end(attackers)
    return [client.status() in (431, None) for client in attackers]


async def client_end(clients: list[RawClient]) -> None:
    """Wait for each client's connection to end, or close it (the server answered and keeps it open)."""
    for client in clients:
        if client.is_open and client.status() is not None:
            client.close()
        with contextlib.suppress(TimeoutError):
            await client.wait_closed(30)
        client.close()


async def attack_for(port: int, count: int, first_address: int, seconds: float) -> str:
    """One attacker process's share of a spread attack: ``count`` slow connections for ``seconds``."""
    attack = Slowloris(port, per_address=200, first_address=first_address, target=count)
    await attack.top_up()
    stop = asyncio.Event()
    running = asyncio.create_task(attack.run(stop))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    stop.set()
    await running
    await asyncio.sleep(0.5)  # let the closes of the last pass's refusals arrive
    attack.prune()
    attack.close()
    return f"held at most {attack.most_open}, {attack.refused} refused, {len(attack.cut)} cut"


if __name__ == "__main__":  # one attacker process of bench_hostile's spread part: PORT COUNT FIRST_ADDRESS SECONDS
    import sys

    port, count, first = (int(arg) for arg in sys.argv[1:4])
    print(asyncio.run(attack_for(port, count, first, float(sys.argv[4]))), flush=True)
