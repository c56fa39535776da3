"""The connection counts, the rate-limited limit log, the open-file limit, and the fallback to uvicorn's own protocols
when this uvicorn lacks a hook the bounds rely on (the real server's behaviour: tests/hostile/test_connections.py)."""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import subprocess
import sys
from collections.abc import AsyncIterator

import aiohttp
import pytest
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from linkcast.core.errors import ConfigurationError
from linkcast.settings import Settings
from linkcast.web.connections import ConnectionGuard, client_key, default_max_connections, peer_address
from linkcast.web.http_protocols import CountedWSProtocol, guarded_protocols
from linkcast.web.limit_log import LimitLog
from tests.support.ports import free_port


def guard(max_connections: int = 100, per_client: int = 3, trusted: str = "") -> ConnectionGuard:
    """Bounds as a server has them (admit() logs from the event loop: call it from async tests)."""
    settings = Settings(max_connections=max_connections, max_connections_per_client=per_client, trusted_proxies=trusted)
    return ConnectionGuard.from_settings(settings)


def key(address: str) -> str:
    ip = peer_address(address)
    assert ip is not None
    return client_key(ip)


def test_clients_are_counted_by_ipv4_address_and_ipv6_slash_64() -> None:
    assert key("192.0.2.7") == "192.0.2.7"
    assert key("::ffff:192.0.2.7") == "192.0.2.7"
    assert key("2001:db8:1:2:aaaa::1") == key("2001:db8:1:2:bbbb::2") == "2001:db8:1:2::/64"
    assert key("2001:db8:1:3::1") != key("2001:db8:1:2::1")


async def test_a_client_over_its_share_is_refused_until_one_of_its_connections_ends() -> None:
    bounds = guard(per_client=3)
    slots = [bounds.admit("192.0.2.1") for _ in range(3)]
    assert all(slots)
    assert bounds.admit("192.0.2.1") is None
    assert bounds.admit("192.0.2.2") is not None  # another client is not affected
    slot = slots[0]
    assert slot is not None
    slot.release()
    slot.release()  # released once, however often it is called
    assert bounds.open == 3
    assert bounds.admit("192.0.2.1") is not None
    assert bounds.admit("192.0.2.1") is None


class Waiting:
    """A connection waiting for a request head, as the guard sees it."""

    def __init__(self, bounds: ConnectionGuard, peer: str) -> None:
        self.slot = bounds.admit(peer)
        self.evicted = False
        bounds.waiting(self)

    def evict(self) -> None:
        self.evicted = True
        assert self.slot is not None
        self.slot.release()


async def test_when_full_the_connection_waiting_longest_gives_way() -> None:
    bounds = guard(max_connections=5, per_client=0)
    waiting = [Waiting(bounds, f"192.0.2.{n}") for n in range(5)]
    bounds.not_waiting(waiting[0])  # its request head came: it is busy now
    bounds.waiting(waiting[1])  # its response ended: it waits again, as the newest
    assert bounds.admit("192.0.2.99") is not None
    assert bounds.admit("192.0.2.98") is not None
    assert [w.evicted for w in waiting] == [False, False, True, True, False]
    assert bounds.open == 5


async def test_the_total_bound_holds_when_every_connection_is_busy() -> None:
    bounds = guard(max_connections=5, per_client=0)
    assert all(bounds.admit(f"192.0.2.{n}") for n in range(5))  # none waits: all are busy
    assert bounds.admit("192.0.2.99") is None
    assert bounds.admit(None) is None  # a Unix socket counts in the total too


async def test_a_client_over_its_share_evicts_no_one() -> None:
    bounds = guard(max_connections=3, per_client=2)
    waiting = [Waiting(bounds, "192.0.2.1"), Waiting(bounds, "192.0.2.1"), Waiting(bounds, "192.0.2.2")]
    assert bounds.admit("192.0.2.1") is None
    assert not any(w.evicted for w in waiting)


@pytest.mark.parametrize("trusted", ["192.0.2.10", "192.0.2.0/24", "2001:db8::5/128", "*"])
async def test_trusted_proxies_are_not_capped_per_client_but_count_in_the_total(trusted: str) -> None:
    bounds = guard(max_connections=50, per_client=2, trusted=trusted)
    proxy = "2001:db8::5" if ":" in trusted else "192.0.2.10"
    assert all(bounds.admit(proxy) for _ in range(50))
    assert bounds.admit(proxy) is None
    assert bounds.open == 50


def test_the_default_total_leaves_a_reserve_of_open_files() -> None:
    assert default_max_connections(1024) == 768
    assert default_max_connections(20_000) == 18_000
    assert default_max_connections(256) == 128
    assert default_max_connections(2**20) == 2**20 - 2**20 // 10


def test_the_soft_open_file_limit_is_raised_to_the_hard_one() -> None:
    code = (
        "import resource\n"
        "from linkcast.web.connections import raise_open_file_limit\n"
        "soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)\n"
        "resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard))\n"
        "assert raise_open_file_limit() == hard == resource.getrlimit(resource.RLIMIT_NOFILE)[0], hard\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=30)


async def test_limit_hits_are_logged_at_once_then_counted_per_interval(caplog: pytest.LogCaptureFixture) -> None:
    # A logger of its own: an earlier test's service in this process may still have a window to flush.
    logger = logging.getLogger("tests.limit_log")
    caplog.set_level(logging.WARNING, logger.name)
    limits = LimitLog(interval=0.2, logger=logger)

    def lines() -> list[str]:
        return [record.getMessage() for record in caplog.records if record.name == logger.name]

    for n in range(500):
        limits.hit("--max-connections-per-client", f"192.0.2.{n % 200}", "over 3, connection refused")
    assert len(lines()) == 1
    async with asyncio.timeout(5):
        while len(lines()) < 2:
            await asyncio.sleep(0.05)
    assert "499 more times" in lines()[1]
    await asyncio.sleep(0.5)  # two quiet intervals: nothing more to say
    assert len(lines()) == 2
    limits.hit("--max-connections-per-client", "192.0.2.1", "over 3, connection refused")
    assert len(lines()) == 3  # quiet again: the next hit is logged at once


class UvicornWithoutResponseHook(H11Protocol):
    """A uvicorn whose protocol renamed a hook the bounds override."""

    on_response_complete = None  # type: ignore[assignment]


@pytest.fixture
async def fallback_server(caplog: pytest.LogCaptureFixture) -> AsyncIterator[tuple[int, list[logging.LogRecord]]]:
    caplog.set_level(logging.WARNING, "linkcast.connections")
    protocols = guarded_protocols(guard(), "h11", base=UvicornWithoutResponseHook)
    warnings = [r for r in caplog.records if r.name == "linkcast.connections"]

    async def app(scope: dict, receive: object, send: object) -> None:  # type: ignore[type-arg]
        assert scope["type"] == "http"
        await send({"type": "http.response.start", "status": 200, "headers": []})  # type: ignore[operator]
        await send({"type": "http.response.body", "body": b"ok"})  # type: ignore[operator]

    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, http=protocols.http, ws=protocols.ws, lifespan="off")
    assert not protocols.guarded and protocols.http is UvicornWithoutResponseHook
    assert protocols.ws is not CountedWSProtocol
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(10):
        while not server.started:
            await asyncio.sleep(0.02)
    yield port, warnings
    server.should_exit = True
    with contextlib.suppress(asyncio.CancelledError):
        await asyncio.wait_for(task, 10)


async def test_a_uvicorn_without_the_hooks_serves_with_its_own_protocols_after_one_warning(
    fallback_server: tuple[int, list[logging.LogRecord]],
) -> None:
    port, warnings = fallback_server
    assert len(warnings) == 1 and "WITHOUT" in warnings[0].getMessage(), warnings
    assert "on_response_complete" in warnings[0].getMessage()
    async with aiohttp.ClientSession() as session, session.get(f"http://127.0.0.1:{port}/") as response:
        assert response.status == 200 and await response.read() == b"ok"


def test_an_unknown_parser_stops_the_server() -> None:
    with pytest.raises(ConfigurationError, match="LINKCAST_HTTP_PARSER"):
        guarded_protocols(guard(), "llhttp")


def test_networks_parse_as_uvicorn_was_given_them() -> None:
    bounds = guard(trusted="10.0.0.0/8,2001:db8::/32")
    assert bounds.trusted == (ipaddress.ip_network("10.0.0.0/8"), ipaddress.ip_network("2001:db8::/32"))
