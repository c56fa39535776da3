"""Submitters share the workers (``core/flows.py``): a client's many URLs on many hosts take one turn, not one per
host, so another client's URL is not held up behind them."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest

from linkcast.web.connections import submitter_flow
from tests.support.service import Service, receive_until, terminal_for
from tests.support.site import LocalSite

FETCH_TIMEOUT = 2.0
SILENT_PORTS = 16  # at two workers, 8 rounds of a fetch timeout each: 16 s before B's URL on the old scheduler


def test_a_client_is_its_address_an_ipv6_one_its_slash_64() -> None:
    assert submitter_flow("192.0.2.7") == "client:192.0.2.7"
    assert submitter_flow("::ffff:192.0.2.7") == "client:192.0.2.7"
    assert (
        submitter_flow("2001:db8:1:2:aaaa::1") == submitter_flow("2001:db8:1:2:bbbb::2") == "client:2001:db8:1:2::/64"
    )
    assert submitter_flow("2001:db8:1:3::1") != submitter_flow("2001:db8:1:2::1")
    assert submitter_flow("") == submitter_flow(None) == submitter_flow("/run/linkcast.sock") == ""


@contextlib.asynccontextmanager
async def silent_servers(count: int) -> AsyncIterator[list[int]]:
    """``count`` servers on loopback that accept connections and never answer."""
    held: list[asyncio.StreamWriter] = []

    async def hold(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        held.append(writer)

    servers = [await asyncio.start_server(hold, "127.0.0.1", 0) for _ in range(count)]
    try:
        yield [server.sockets[0].getsockname()[1] for server in servers]
    finally:
        for writer in held:
            writer.close()
        for server in servers:
            server.close()


@pytest.fixture(params=["sqlite", "redis"])
async def two_workers(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Service]:
    """The service with two workers, on SQLite and on Redis (the Lua scheduler)."""
    store, flags = f"sqlite:///{tmp_path}/linkcast.db", []
    if request.param == "redis":
        store, flags = request.getfixturevalue("redis_url"), ["--redis-prefix", request.getfixturevalue("redis_prefix")]
    running = Service(
        "--allow-private-networks", "--workers", "2", "--fetch-timeout", str(FETCH_TIMEOUT), "--retries", "0", *flags,
        store=store, log_path=tmp_path / "serve.log",
    )  # fmt: skip
    await running.start()
    yield running
    running.stop()


def client_from(address: str) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(address, 0)))


async def test_a_client_s_batch_on_many_silent_hosts_does_not_hold_up_another_client(
    two_workers: Service, site: LocalSite
) -> None:
    live = site.page("/", '<a href="/next">next</a>')
    async with silent_servers(SILENT_PORTS) as ports, client_from("127.0.0.2") as a, client_from("127.0.0.3") as b:
        silent = [f"http://127.0.0.1:{port}/" for port in ports]
        status, batch = await two_workers.call("POST", "/urls", json={"urls": silent}, session=a)
        assert status == 200 and all(answer["status"] == "accepted" for answer in batch["results"])
        async with two_workers.connect("request_id=b") as ws:
            began = time.monotonic()
            status, _ = await two_workers.put("b", live, session=b)
            assert status == 201
            frames = await receive_until(ws, lambda frames: "b" in terminal_for(frames, {"b"}), timeout=60)
            waited = time.monotonic() - began
    assert terminal_for(frames, {"b"})["b"]["type"] == "result"
    # Its turn comes with the next free worker, about one fetch timeout; behind the batch it was eight.
    assert waited < 4 * FETCH_TIMEOUT, f"b's result took {waited:.1f} s"
