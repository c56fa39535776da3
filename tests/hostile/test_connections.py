"""Hostile clients of the HTTP server itself: oversized request heads, slow ones (slowloris), too many connections.

Each against a real ``linkcast serve``, on both HTTP parsers uvicorn can use. Attackers connect from other loopback
addresses (all of 127.0.0.0/8 is this machine) than the well-behaved client (127.0.0.1), so that per-client bounds
can be seen to spare it.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import orjson
import pytest
import websockets

from tests.hostile.test_hostile import PeakRSS
from tests.support.raw_http import RawClient
from tests.support.service import Service, receive_until, terminal_for
from tests.support.site import LocalSite

HEADER_BOUND = 64 * 1024
# Before the bound, four 64 MB header streams grew the server by about 510 MB (httptools); the bound allows 64 KiB
# plus one socket read each. The margin is for the allocator and the sampler.
RSS_GROWTH_BOUND = 100 * 1024 * 1024
# A well-behaved client's /healthz under attack; it takes a few ms when calm.
PROMPT = 1.0


@pytest.fixture(params=["httptools", "h11"])
def parser(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def serve(tmp_path: Path, parser: str, *flags: str) -> Service:
    service = Service(*flags, store="memory://", env={"LINKCAST_HTTP_PARSER": parser}, log_path=tmp_path / "serve.log")
    await service.start()
    return service


@pytest.fixture
async def clients() -> AsyncIterator[list[RawClient]]:
    """Raw connections a test opens; all closed at its end."""
    opened: list[RawClient] = []
    yield opened
    for client in opened:
        client.close()


async def healthz(service: Service, timeout: float = PROMPT) -> float:
    """Seconds /healthz took from 127.0.0.1 on a new connection; fails past ``timeout``."""
    began = time.monotonic()
    async with (
        aiohttp.ClientSession(connector=aiohttp.TCPConnector(force_close=True)) as session,
        session.get(f"{service.base_url}/healthz", timeout=aiohttp.ClientTimeout(total=timeout)) as response,
    ):
        assert response.status == 200
    return time.monotonic() - began


async def exchange(service: Service, data: bytes, clients: list[RawClient]) -> RawClient:
    """Send ``data`` on a new connection and wait for the server to end it."""
    client = await RawClient.open(service.port)
    clients.append(client)
    await client.send(data)
    await client.wait_closed(10)
    return client


def refused_with_431(client: RawClient) -> bool:
    """A 431 with the JSON error, or (the server may not get to answer) a closed connection with no answer."""
    if not client.received:
        return True
    head, _, body = bytes(client.received).partition(b"\r\n\r\n")
    return (
        client.status() == 431
        and b"connection: close" in head.lower()
        and orjson.loads(body)["error"]["code"] == "headers_too_large"
    )


def log_lines(service: Service, text: str) -> list[str]:
    assert service.log_path is not None
    return [line for line in service.log_path.read_text(errors="replace").splitlines() if text in line]


async def test_a_request_head_over_the_bound_is_refused_with_431_and_one_within_is_served(
    tmp_path: Path, parser: str, clients: list[RawClient]
) -> None:
    service = await serve(tmp_path, parser, "--max-request-header-bytes", str(HEADER_BOUND))
    try:
        within = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\nX-Fill: " + b"a" * 60_000
        within += b"\r\n\r\n"
        assert (await exchange(service, within, clients)).status() == 200
        big_header = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Fill: " + b"a" * 100_000 + b"\r\n\r\n"
        big_url = b"GET /healthz?" + b"a" * 100_000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        many_headers = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-A: b\r\n" * 10_000 + b"\r\n"
        for head in (big_header, big_url, many_headers):
            client = await exchange(service, head, clients)
            assert client.status() == 431, bytes(client.received[:200])
            assert refused_with_431(client)
        assert await healthz(service) < PROMPT
        assert log_lines(service, "--max-request-header-bytes")
    finally:
        service.stop()


async def test_a_websocket_handshake_with_a_5mb_url_is_refused(
    tmp_path: Path, parser: str, clients: list[RawClient]
) -> None:
    service = await serve(tmp_path, parser)
    try:
        handshake = (
            b"GET /scraped_urls?since=" + b"1" * 5_000_000 + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\n"
            b"Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: SGVsbG8sIHdvcmxkIQ==\r\n\r\n"
        )
        client = await exchange(service, handshake, clients)
        assert refused_with_431(client), bytes(client.received[:200])
        async with service.connect() as ws:  # a normal handshake still works
            await asyncio.wait_for(ws.ping(), 5)
    finally:
        service.stop()


async def test_memory_stays_bounded_while_four_clients_send_64mb_headers(
    tmp_path: Path, parser: str, clients: list[RawClient]
) -> None:
    service = await serve(tmp_path, parser)
    assert service.process is not None
    rss = PeakRSS(service.process.pid)
    idle = rss.sample()
    sampler = asyncio.create_task(rss.run())
    try:
        attackers = [await RawClient.open(service.port, f"127.0.0.{n + 2}") for n in range(4)]
        clients.extend(attackers)
        head, filler = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: ", b"a" * 1024 * 1024
        async with asyncio.timeout(60):
            await asyncio.gather(*(client.stream(head, filler, 64 * 1024 * 1024) for client in attackers))
            for client in attackers:
                await client.wait_closed(10)
        assert all(refused_with_431(client) for client in attackers)
        assert await healthz(service) < PROMPT
    finally:
        sampler.cancel()
        service.stop()
    assert rss.peak - idle < RSS_GROWTH_BOUND, f"grew {(rss.peak - idle) / 2**20:.0f} MiB from {idle / 2**20:.0f}"


async def drip(clients: list[RawClient], every: float, stop: asyncio.Event) -> None:
    """Send each open client one more header line every ``every`` seconds: never completing its request."""
    while not stop.is_set():
        for client in clients:
            if client.is_open:
                await client.send(b"X-Drip: 1\r\n")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), every)


async def wait_until_closed(clients: list[RawClient], count: int, timeout: float) -> None:
    async with asyncio.timeout(timeout):
        while sum(not client.is_open for client in clients) < count:
            await asyncio.sleep(0.02)


async def test_slow_headers_from_one_address_leave_healthz_answering_for_others(
    tmp_path: Path, parser: str, clients: list[RawClient]
) -> None:
    per_client, attackers_count = 20, 120
    service = await serve(tmp_path, parser, "--max-connections-per-client", str(per_client), "--header-timeout", "60")
    stop = asyncio.Event()
    try:
        attackers = [await RawClient.open(service.port, "127.0.0.2") for _ in range(attackers_count)]
        clients.extend(attackers)
        dripping = asyncio.create_task(drip(attackers, 0.2, stop))
        for client in attackers:
            await client.send(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
        # Those over the client's share are closed as soon as they are accepted.
        await wait_until_closed(attackers, attackers_count - per_client, timeout=10)
        times = [await healthz(service) for _ in range(20)]
        assert max(times) < PROMPT, times
        assert sum(client.is_open for client in attackers) == per_client
        stop.set()
        await dripping
        # Hits are logged at once, then counted: a hundred refusals are not a hundred lines.
        lines = log_lines(service, "--max-connections-per-client")
        assert 1 <= len(lines) <= 3 and "127.0.0.2" in lines[0], lines
    finally:
        stop.set()
        service.stop()


async def test_a_request_head_not_complete_within_the_header_timeout_is_cut(
    tmp_path: Path, parser: str, clients: list[RawClient]
) -> None:
    timeout = 1.0
    service = await serve(tmp_path, parser, "--header-timeout", str(timeout))
    stop = asyncio.Event()
    try:
        dripper, silent, kept_alive = [await RawClient.open(service.port, "127.0.0.2") for _ in range(3)]
        clients.extend([dripper, silent, kept_alive])
        async with service.connect() as ws:
            await kept_alive.send(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            await dripper.send(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            dripping = asyncio.create_task(drip([dripper], 0.1, stop))
            await wait_until_closed([dripper, silent, kept_alive], 3, timeout=timeout + 5)
            # A WebSocket, open as long as they were, is no request head waiting: it stays.
            await asyncio.wait_for(ws.ping(), 5)
        stop.set()
        await dripping
        assert dripper.status() == 408 and b'"header_timeout"' in dripper.received
        assert silent.received == b""
        assert kept_alive.status() == 200 and kept_alive.received.count(b"HTTP/1.1") == 1
        for client in (dripper, silent):
            assert timeout * 0.9 <= client.lifetime <= timeout + 3, client.lifetime
        assert log_lines(service, "--header-timeout")
    finally:
        stop.set()
        service.stop()


async def test_a_full_server_closes_the_connection_waiting_longest_to_let_a_new_one_in(
    tmp_path: Path, parser: str, clients: list[RawClient]
) -> None:
    total = 40
    service = await serve(
        tmp_path, parser, "--max-connections", str(total), "--max-connections-per-client", "0",
        "--header-timeout", "60",
    )  # fmt: skip
    try:
        # Slow connections from many addresses fill the server; none is over a per-client share.
        holders = []
        for n in range(total):
            holders.append(await RawClient.open(service.port, f"127.0.1.{n % 10 + 1}"))
            await holders[-1].send(b"GET /healthz HTTP/1.1\r\n")
        clients.extend(holders)
        assert await healthz(service) < PROMPT  # the oldest gave way
        await holders[0].wait_closed(5)
        late = [await RawClient.open(service.port, "127.0.2.1") for _ in range(10)]
        clients.extend(late)
        await wait_until_closed(holders, 10, timeout=10)
        assert all(client.is_open for client in late)
        assert all(not client.is_open for client in holders[:10]), [client.is_open for client in holders]
        assert log_lines(service, "--max-connections:")
    finally:
        service.stop()


async def test_the_total_connection_bound_holds_when_every_connection_is_busy(
    tmp_path: Path, parser: str, clients: list[RawClient]
) -> None:
    total = 20
    service = await serve(tmp_path, parser, "--max-connections", str(total), "--max-connections-per-client", "0")
    sockets = []
    try:
        # WebSockets are busy connections: none gives way.
        for n in range(total):
            sockets.append(await websockets.connect(service.ws_url, open_timeout=10, local_addr=(f"127.0.3.{n}", 0)))
        extra = await RawClient.open(service.port, "127.0.4.1")
        clients.append(extra)
        await extra.wait_closed(10)
        with pytest.raises((aiohttp.ClientError, AssertionError)):
            await healthz(service)
        await sockets.pop().close()
        async with asyncio.timeout(10):  # the closed WebSocket's place is free, once the server has seen it close
            while True:
                with contextlib.suppress(aiohttp.ClientError, AssertionError):
                    await healthz(service)
                    break
                await asyncio.sleep(0.05)
    finally:
        for ws in sockets:
            await ws.close()
        service.stop()


async def test_trusted_proxies_are_not_capped_per_client(tmp_path: Path, parser: str, clients: list[RawClient]) -> None:
    service = await serve(
        tmp_path, parser, "--trusted-proxies", "127.0.0.4", "--max-connections-per-client", "5",
        "--header-timeout", "60",
    )  # fmt: skip
    try:
        proxied = [await RawClient.open(service.port, "127.0.0.4") for _ in range(15)]
        direct = [await RawClient.open(service.port, "127.0.0.5") for _ in range(8)]
        clients.extend(proxied + direct)
        await wait_until_closed(direct, 3, timeout=10)
        assert all(client.is_open for client in proxied)
        await proxied[-1].send(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Forwarded-For: 192.0.2.1\r\n\r\n")
        async with asyncio.timeout(10):
            while proxied[-1].status() is None:
                await asyncio.sleep(0.02)
        assert proxied[-1].status() == 200
    finally:
        service.stop()


async def test_a_websocket_keeps_its_place_in_the_client_count_until_it_closes(
    tmp_path: Path, parser: str, clients: list[RawClient]
) -> None:
    service = await serve(tmp_path, parser, "--max-connections-per-client", "3", "--header-timeout", "60")
    try:
        sockets = [
            await websockets.connect(service.ws_url, open_timeout=10, local_addr=("127.0.0.6", 0)) for _ in range(3)
        ]
        over = await RawClient.open(service.port, "127.0.0.6")
        clients.append(over)
        await over.wait_closed(10)
        await sockets.pop().close()
        async with asyncio.timeout(10):  # the closed WebSocket's place is free again, once the server has seen it
            while True:
                again = await RawClient.open(service.port, "127.0.0.6")
                clients.append(again)
                await again.send(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(1):
                        while again.status() is None and again.is_open:
                            await asyncio.sleep(0.02)
                if again.status() == 200:
                    break
        for ws in sockets:
            await ws.close()
    finally:
        service.stop()


async def stalled_websocket(port: int, source: str) -> socket.socket:
    """A WebSocket on /scraped_urls from ``source`` that reads its handshake's answer and nothing after it."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    sock.bind((source, 0))
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, ("127.0.0.1", port))
    await loop.sock_sendall(
        sock,
        b"GET /scraped_urls HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n"
        b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: SGVsbG8sIHdvcmxkIQ==\r\n\r\n",
    )
    head = b""
    async with asyncio.timeout(10):
        while b"\r\n\r\n" not in head:
            head += await loop.sock_recv(sock, 1)
    assert head.startswith(b"HTTP/1.1 101 "), head
    return sock


async def answers_healthz(port: int, source: str, clients: list[RawClient]) -> bool:
    """Whether a new connection from ``source`` is admitted and answered."""
    client = await RawClient.open(port, source)
    clients.append(client)
    await client.send(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(2):
            while client.status() is None and client.is_open:
                await asyncio.sleep(0.02)
    return client.status() == 200


async def test_a_websocket_client_that_stops_reading_is_cut_and_gives_its_place_back(
    tmp_path: Path, site: LocalSite, clients: list[RawClient]
) -> None:
    # uvicorn ends a WebSocket with transport.close() (its keepalive ping's timeout included), which waits for the
    # unsent bytes to be sent: a client that stopped reading with events on their way held its connection, its place
    # in the per-client count and megabytes of socket buffers for ever (still there after 90 s: its address, with one
    # connection allowed, got no other). Only this bound ends it. Two allowed here: the healthy client's WebSocket and
    # its submissions come from one address.
    stall = 2.0
    service = await serve(
        tmp_path, "httptools", "--allow-private-networks", "--max-connections-per-client", "2",
        "--send-stall-timeout", str(stall),
    )  # fmt: skip
    url = site.page("/large", "".join(f'<a href="/link/{n}/{"x" * 30}">l</a>' for n in range(5000)))
    requests = {f"large{n}": f"{url}?{n}" for n in range(20)}  # some 5 MB of events: past every buffer
    try:
        stalled = [await stalled_websocket(service.port, "127.0.0.7") for _ in range(2)]
        try:
            assert not await answers_healthz(service.port, "127.0.0.7", clients), "its connections are taken"
            async with service.connect() as healthy:
                for request_id, target in requests.items():
                    assert (await service.put(request_id, target))[0] == 201
                await receive_until(healthy, lambda fs: len(terminal_for(fs, set(requests))) == len(requests), 60)
            began = time.monotonic()
            async with asyncio.timeout(stall + 20):
                while not await answers_healthz(service.port, "127.0.0.7", clients):
                    await asyncio.sleep(0.2)
            assert time.monotonic() - began < stall + 20
            assert log_lines(service, "--send-stall-timeout")
        finally:
            for sock in stalled:
                sock.close()
    finally:
        service.stop()


async def test_a_client_that_reads_no_answer_is_cut_and_gives_its_place_back(
    tmp_path: Path, parser: str, clients: list[RawClient]
) -> None:
    # Quart gives up on an answer nobody reads after 60 s, and uvicorn then closes the connection, which waits for the
    # unsent bytes: eight Swagger UI bundles asked for on one connection (public, even with --token) held it, and its
    # address's only place, for ever (still there after 150 s).
    stall = 2.0
    service = await serve(
        tmp_path, parser, "--max-connections-per-client", "1", "--send-stall-timeout", str(stall)
    )  # fmt: skip
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    sock.bind(("127.0.0.9", 0))
    try:
        loop = asyncio.get_running_loop()
        await loop.sock_connect(sock, ("127.0.0.1", service.port))
        asked = b"GET /docs/swagger-ui/swagger-ui-bundle.js HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        await loop.sock_sendall(sock, asked * 8)
        assert not await answers_healthz(service.port, "127.0.0.9", clients), "its one connection is taken"
        async with asyncio.timeout(stall + 20):
            while not await answers_healthz(service.port, "127.0.0.9", clients):
                await asyncio.sleep(0.2)
        assert log_lines(service, "--send-stall-timeout")
    finally:
        sock.close()
        service.stop()


async def test_a_slow_client_that_keeps_reading_is_not_cut(tmp_path: Path, clients: list[RawClient]) -> None:
    stall = 2.0  # forty times the reader's pauses, and still less than its kernel queue takes to drain (~2.8 MB)
    service = await serve(tmp_path, "httptools", "--send-stall-timeout", str(stall))
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    sock.setblocking(False)
    try:
        loop = asyncio.get_running_loop()
        await loop.sock_connect(sock, ("127.0.0.1", service.port))
        asked = b"GET /docs/swagger-ui/swagger-ui-bundle.js HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        await loop.sock_sendall(sock, (asked + b"\r\n") * 7 + asked + b"Connection: close\r\n\r\n")
        received = 0
        async with asyncio.timeout(60):
            while chunk := await loop.sock_recv(sock, 64 * 1024):  # some 1 MB/s: the buffers stay full
                received += len(chunk)
                await asyncio.sleep(0.05)
        assert received > 8 * 1_000_000, "every answer came whole, however slowly"
        assert not log_lines(service, "--send-stall-timeout")
    finally:
        sock.close()
        service.stop()
