"""The fetcher against a local site: retries only for transient failures, politeness, limits, checked resolution."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import ipaddress
import socket
import time
import zlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from linkcast.core.errors import Blocked, FetchError
from linkcast.core.policy import AddressPolicy
from linkcast.fetch import Fetcher
from linkcast.fetch.dns import BlockedAddress, GuardedResolver, refuse_resolved
from linkcast.fetch.politeness import HostGate
from linkcast.fetch.retry import Backoff, TransientFetchError, parse_retry_after
from linkcast.settings import Settings
from tests.support.ports import free_port
from tests.support.site import LocalSite


@pytest.fixture
async def fetcher_for(site: LocalSite) -> AsyncIterator[Any]:
    """Make fetchers allowed to reach only the local site, closed at the end."""
    made: list[Fetcher] = []

    async def make(**changes: Any) -> Fetcher:
        settings = Settings(allow_hosts=f"127.0.0.1:{site.port}", **changes)
        fetcher = Fetcher(settings)
        await fetcher.open()
        made.append(fetcher)
        return fetcher

    yield make
    for fetcher in made:
        await fetcher.close()


def counting(responses: list[web.Response], hits: list[float]) -> Any:
    """A handler answering ``responses`` in turn (the last one forever), recording when each request came."""

    async def handler(_request: web.Request) -> web.StreamResponse:
        hits.append(time.monotonic())
        template = responses[min(len(hits), len(responses)) - 1]
        return web.Response(body=template.body, status=template.status, headers=template.headers)

    return handler


PAGE = web.Response(body=b"<a href='/x'>x</a>", headers={"Content-Type": "text/html"})


async def test_429_and_503_are_retried_honouring_retry_after(site: LocalSite, fetcher_for: Any) -> None:
    hits: list[float] = []
    busy = [web.Response(status=429, headers={"Retry-After": "0"}), web.Response(status=503), PAGE]
    url = site.route("/busy", counting(busy, hits))
    page = await (await fetcher_for(retries=2)).fetch(url)
    assert page.status_code == 200 and len(hits) == 3


async def test_retries_are_spent_then_the_error_is_reported(site: LocalSite, fetcher_for: Any) -> None:
    hits: list[float] = []
    url = site.route("/down", counting([web.Response(status=503, headers={"Retry-After": "0"})], hits))
    with pytest.raises(FetchError) as raised:
        await (await fetcher_for(retries=2)).fetch(url)
    assert raised.value.code == "http_status" and "503" in raised.value.message
    assert len(hits) == 3


@pytest.mark.parametrize("status", [400, 403, 404, 410, 500, 502])
async def test_other_statuses_are_never_retried(site: LocalSite, fetcher_for: Any, status: int) -> None:
    hits: list[float] = []
    url = site.route(f"/s{status}", counting([web.Response(status=status)], hits))
    with pytest.raises(FetchError) as raised:
        await (await fetcher_for(retries=3)).fetch(url)
    assert raised.value.code == "http_status" and len(hits) == 1


async def test_a_retry_after_past_the_fetch_budget_fails_at_once(site: LocalSite, fetcher_for: Any) -> None:
    hits: list[float] = []
    url = site.route("/later", counting([web.Response(status=429, headers={"Retry-After": "3600"})], hits))
    with pytest.raises(FetchError) as raised:
        await (await fetcher_for(retries=3, fetch_timeout=5.0)).fetch(url)
    assert raised.value.code == "http_status" and len(hits) == 1


async def test_a_retry_after_past_the_longest_wait_is_never_asked_sooner(site: LocalSite, fetcher_for: Any) -> None:
    """With a fetch budget of a minute, a 429 asking for an hour once got a second request 30 s later."""
    hits: list[float] = []
    url = site.route("/much-later", counting([web.Response(status=429, headers={"Retry-After": "40"})], hits))
    fetcher = await fetcher_for(retries=3, fetch_timeout=60.0)
    async with asyncio.timeout(10):
        resource = await fetcher.fetch_resource(url, max_bytes=1000)
    assert resource.status_code == 429 and len(hits) == 1


async def test_broken_connections_are_retried() -> None:
    accepted = 0

    async def hang_up(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal accepted
        accepted += 1
        writer.close()

    server = await asyncio.start_server(hang_up, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    counts = {}
    try:
        for retries in (0, 2):
            accepted = 0
            fetcher = Fetcher(Settings(allow_hosts=f"127.0.0.1:{port}", retries=retries))
            await fetcher.open()
            try:
                with pytest.raises(FetchError) as raised:
                    await fetcher.fetch(f"http://127.0.0.1:{port}/")
            finally:
                await fetcher.close()
            assert raised.value.code == "connection_reset"
            counts[retries] = accepted
    finally:
        server.close()
    # aiohttp itself may reconnect once per attempt for an idempotent request: count attempts relative to none.
    assert counts[0] >= 1 and counts[2] == 3 * counts[0], counts


async def test_per_host_concurrency_is_never_exceeded(site: LocalSite, fetcher_for: Any) -> None:
    in_flight = peak = 0

    async def slow(_request: web.Request) -> web.StreamResponse:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        await asyncio.sleep(0.05)  # the server's own slowness, so that requests overlap
        in_flight -= 1
        return web.Response(body=b"<p>", headers={"Content-Type": "text/html"})

    url = site.route("/slow", slow)
    fetcher = await fetcher_for(per_host_concurrency=2)
    await asyncio.gather(*(fetcher.fetch(f"{url}?n={n}") for n in range(8)))
    assert peak == 2
    assert len(fetcher.gate) == 0  # idle hosts are forgotten


async def test_per_host_concurrency_holds_however_the_server_is_spelled(site: LocalSite) -> None:
    """127.0.0.1 and [::ffff:127.0.0.1] are one server (a dual-stack socket connects to the IPv4 address): one gate.
    A request that finds another in flight records it and lets it end; alone, it waits a little for one to come."""
    in_flight: list[str] = []
    overlapped: list[str] = []
    arrived = asyncio.Event()

    async def slow(request: web.Request) -> web.StreamResponse:
        if in_flight:
            overlapped.append(request.host)
        in_flight.append(request.host)
        arrived.set()
        arrived.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(arrived.wait(), 0.5)
        in_flight.remove(request.host)
        return web.Response(body=b"<p>", headers={"Content-Type": "text/html"})

    site.route("/slow", slow)
    fetcher = Fetcher(Settings(allow_private_networks=True, per_host_concurrency=1))
    await fetcher.open()
    try:
        spellings = [f"http://127.0.0.1:{site.port}/slow", f"http://[::ffff:127.0.0.1]:{site.port}/slow"]
        pages = await asyncio.gather(*(fetcher.fetch(url) for url in spellings))
    finally:
        await fetcher.close()
    assert [page.status_code for page in pages] == [200, 200]
    assert overlapped == []


async def test_per_host_delay_spaces_request_starts(site: LocalSite, fetcher_for: Any) -> None:
    hits: list[float] = []
    url = site.route("/polite", counting([PAGE], hits))
    fetcher = await fetcher_for(per_host_concurrency=4, per_host_delay=0.2)
    began = time.monotonic()
    await asyncio.gather(*(fetcher.fetch(f"{url}?n={n}") for n in range(3)))
    # The third start is two spacings after the first: load can only stretch that. (The gaps between arrivals at the
    # server are no measure: a late first arrival shortens the gap after it.)
    assert len(hits) == 3 and time.monotonic() - began >= 0.39


async def test_the_host_gate_spaces_the_starts_it_lets_through() -> None:
    gate = HostGate(concurrency=4, delay=0.1)
    starts: list[float] = []

    async def start() -> None:
        async with gate.slot("h:80"):
            starts.append(time.monotonic())

    began = time.monotonic()
    await asyncio.gather(*(start() for _ in range(4)))
    # The k-th start is k spacings after the first could start: load can only stretch that. (The gaps between the
    # starts are no measure: a task that resumes late shortens the gap after it.) asyncio may wake a timer up to its
    # clock's resolution early.
    assert len(starts) == 4 and all(at - began >= 0.1 * k - 0.001 for k, at in enumerate(sorted(starts))), starts
    assert len(gate) == 1  # the host's spacing has not passed yet: kept
    await asyncio.sleep(0.11)
    async with gate.slot("other:80"):
        pass
    assert len(gate) == 1  # h:80, idle past its spacing, forgotten as another host went idle; other:80 kept for now


async def test_an_idle_server_is_cut_off_by_the_read_timeout(site: LocalSite, fetcher_for: Any) -> None:
    release = asyncio.Event()

    async def stall(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        await response.prepare(request)
        await response.write(b"<p>")
        await release.wait()  # never set: the server goes quiet
        return response

    url = site.route("/stall", stall)
    with pytest.raises(FetchError) as raised:
        await (await fetcher_for(read_timeout=0.3, fetch_timeout=30.0)).fetch(url)
    release.set()
    assert raised.value.code == "timeout" and "no bytes received" in raised.value.message


async def test_a_body_that_is_not_html_is_not_downloaded(site: LocalSite, fetcher_for: Any) -> None:
    sent = 0

    async def endless_binary(request: web.Request) -> web.StreamResponse:
        nonlocal sent
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        await response.prepare(request)
        try:
            while sent < 512 * 1024 * 1024:
                await response.write(bytes(65536))
                sent += 65536
        except ConnectionError:
            pass
        return response

    url = site.route("/binary", endless_binary)
    with pytest.raises(FetchError) as raised:
        await (await fetcher_for()).fetch(url)
    assert raised.value.code == "not_html"
    assert sent < 64 * 1024 * 1024  # socket buffers at most, not the body


@pytest.mark.parametrize("wbits", [15, 31, -15], ids=["deflate", "gzip", "raw-deflate"])
async def test_decompression_bombs_stop_at_the_cap(site: LocalSite, fetcher_for: Any, wbits: int) -> None:
    compressor = zlib.compressobj(1, zlib.DEFLATED, wbits)
    bomb = b"".join(compressor.compress(bytes(1 << 20)) for _ in range(64)) + compressor.flush()
    encoding = "gzip" if wbits == 31 else "deflate"
    url = site.route(
        f"/bomb{wbits}",
        counting([web.Response(body=bomb, headers={"Content-Type": "text/html", "Content-Encoding": encoding})], []),
    )
    with pytest.raises(FetchError) as raised:
        await (await fetcher_for(max_body_bytes=1024 * 1024)).fetch(url)
    assert raised.value.code == "too_large" and len(bomb) < 1024 * 1024


async def test_cookies_never_travel_from_one_fetch_to_another(site: LocalSite, fetcher_for: Any) -> None:
    seen: list[str | None] = []

    async def cookie(request: web.Request) -> web.StreamResponse:
        seen.append(request.headers.get("Cookie"))
        response = web.Response(body=b"<p>", headers={"Content-Type": "text/html"})
        response.set_cookie("session", "victim")
        return response

    url = site.route("/cookie", cookie)
    fetcher = await fetcher_for()
    await fetcher.fetch(url)
    await fetcher.fetch(url)
    assert seen == [None, None]


class ChangingResolver(AbstractResolver):
    """DNS whose answer changes between lookups, as in a rebinding attack."""

    def __init__(self, answers: list[str]) -> None:
        self.answers = answers

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[Any]:
        address = self.answers.pop(0)
        result: ResolveResult = {
            "hostname": host, "host": address, "port": port, "family": family, "proto": 0, "flags": 0,
        }  # fmt: skip
        return [result]

    async def close(self) -> None:
        pass


async def test_every_resolution_is_checked_so_rebinding_is_refused() -> None:
    resolver = GuardedResolver(AddressPolicy(), ChangingResolver(["93.184.215.14", "127.0.0.1", "::ffff:10.0.0.1"]))
    first = await resolver.resolve("rebind.example", 80)
    assert first[0]["host"] == "93.184.215.14"
    for _ in range(2):
        with pytest.raises(BlockedAddress) as raised:
            await resolver.resolve("rebind.example", 80)
        assert isinstance(raised.value.blocked, Blocked)


class FailingResolver(ChangingResolver):
    """DNS that fails, at once or after ``delay`` seconds."""

    def __init__(self, delay: float = 0.0) -> None:
        super().__init__([])
        self.delay = delay

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[Any]:
        await asyncio.sleep(self.delay)
        raise OSError(f"cannot resolve {host}")


class ManyAddresses(AbstractResolver):
    """DNS that answers with many IPv4 addresses for every name."""

    def __init__(self, addresses: list[str]) -> None:
        self.addresses = addresses

    async def resolve(self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET) -> list[Any]:
        return [
            {"hostname": host, "host": address, "port": port, "family": socket.AF_INET, "proto": 0, "flags": 0}
            for address in self.addresses
        ]

    async def close(self) -> None:
        pass


@pytest.mark.parametrize(("listening", "reached"), [(1, True), (29, False)])
async def test_a_name_with_many_addresses_has_only_its_first_few_tried(listening: int, reached: bool) -> None:
    """aiohttp tries every address it is given until one connects: a name with a /24 of addresses was a scan of them
    all for one fetch. A site on the second of 30 addresses is reached; one on the last, never."""
    addresses = [f"127.0.0.{n}" for n in range(11, 41)]
    port = free_port()

    async def page(_request: web.Request) -> web.StreamResponse:
        return web.Response(text="<p>", content_type="text/html")

    site = web.AppRunner(web.Application())
    site.app.router.add_get("/", page)
    await site.setup()
    await web.TCPSite(site, addresses[listening], port).start()
    fetcher = Fetcher(Settings(allow_private_networks=True, retries=0))
    await fetcher.open()
    assert fetcher._session is not None
    fetcher._session.connector._resolver = GuardedResolver(fetcher.policy, ManyAddresses(addresses))  # type: ignore[union-attr]
    try:
        if reached:
            assert (await fetcher.fetch(f"http://many.example:{port}/")).status_code == 200
        else:
            with pytest.raises(FetchError) as failed:
                await fetcher.fetch(f"http://many.example:{port}/")
            assert failed.value.code == "connect"
    finally:
        await fetcher.close()
        await site.cleanup()


@pytest.mark.parametrize("host", ["a" * 64 + ".example", "a" * 300, "a..example"])
async def test_a_name_dns_cannot_look_up_fails_as_dns_not_as_a_crash(host: str) -> None:
    # The URL standard takes labels of any length, and empty ones; the system resolver refused them with a
    # UnicodeError (its IDNA codec), which no caller expects: a page ended as "internal", a crawl job or feed poll
    # crashed, and PUT /webhooks with such a URL answered 500.
    fetcher = Fetcher(Settings(retries=0))
    await fetcher.open()
    try:
        with pytest.raises(FetchError) as failed:
            await fetcher.fetch(f"http://{host}/")
        assert failed.value.code == "dns"
        await refuse_resolved(fetcher.policy, f"http://{host}/")  # left to each delivery, like any name that fails
    finally:
        await fetcher.close()


async def test_a_name_resolving_to_a_refused_address_is_refused_when_registered() -> None:
    with pytest.raises(Blocked, match=r"hook\.example resolves to a loopback address"):
        await refuse_resolved(AddressPolicy(), "https://hook.example/in", resolver=ChangingResolver(["127.0.0.1"]))
    await refuse_resolved(AddressPolicy(), "https://hook.example/in", resolver=ChangingResolver(["93.184.215.14"]))
    # No answer, or none in time: left to the checks of each delivery.
    await refuse_resolved(AddressPolicy(), "https://hook.example/in", resolver=FailingResolver())
    await refuse_resolved(AddressPolicy(), "https://hook.example/in", 0.05, FailingResolver(delay=10))
    # What the policy allows is not looked up at all (the resolver has no answer to give).
    await refuse_resolved(AddressPolicy(allow_private=True), "https://hook.example/in", resolver=ChangingResolver([]))


def test_backoff_grows_exponentially_with_jitter_and_honours_retry_after() -> None:
    import random

    backoff = Backoff(retries=3, base=0.5, cap=4.0)
    rng = random.Random(7)
    error = TransientFetchError("x", code="connect")
    waits = [[backoff.wait(attempt, error, rng) for _ in range(200)] for attempt in range(3)]
    for attempt, samples in enumerate(waits):
        assert all(w is not None and 0 <= w <= 0.5 * 2**attempt for w in samples)
        assert len(set(samples)) > 100  # jittered
    assert backoff.wait(3, error, rng) is None
    assert backoff.wait(0, TransientFetchError("x", code="http_status", retry_after=3.0), rng) == 3.0
    # Longer than the longest wait: no retry at all, never one sooner than the server asked.
    assert backoff.wait(0, TransientFetchError("x", code="http_status", retry_after=99.0), rng) is None
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("soon") is None
    # Digits past any wait kept are still a wait, of the longest (RFC 9111 1.2.2's 2^31 s): none is retried.
    assert parse_retry_after("9" * 400) == 2.0**31
    huge = parse_retry_after("9" * 11)
    assert backoff.wait(0, TransientFetchError("x", code="http_status", retry_after=huge), rng) is None


@pytest.mark.parametrize("junk", ["²", "١٢", "-5", "1.5", "0x10", "Mon, 32 Dec 2026 99:99:99 GMT", ""])
def test_a_retry_after_that_is_neither_ascii_seconds_nor_a_date_is_none_never_an_error(junk: str) -> None:
    assert parse_retry_after(junk, now=0.0) is None


def test_resolver_results_are_checked_by_address_not_by_name() -> None:
    policy = AddressPolicy()
    assert policy.refusal(ipaddress.ip_address("fe80::1")) is not None
    assert policy.refusal(ipaddress.ip_address("2606:4700::1111")) is None


async def test_the_connected_peer_is_checked_even_if_resolution_were_not(site: LocalSite) -> None:
    site.page("/peer", "<p>")
    fetcher = Fetcher(Settings())
    await fetcher.open()
    try:
        assert fetcher._session is not None
        # Simulate a hole: an unguarded resolver that sends an ordinary name to loopback (localhost itself is refused
        # before any resolution).
        fetcher._session.connector._resolver = ChangingResolver(["127.0.0.1"])  # type: ignore[union-attr]
        with pytest.raises(Blocked, match=r"rebind\.example resolves to"):
            await fetcher.fetch(f"http://rebind.example:{site.port}/peer")
    finally:
        await fetcher.close()


async def test_a_body_that_cannot_be_decoded_is_a_bad_response_asked_once(site: LocalSite, fetcher_for: Any) -> None:
    """200,000 empty gzip members (4 MB): aiohttp refuses so many, and the failure read as a broken connection, which
    was retried, decoding the same bytes three times."""
    hits: list[float] = []
    members = web.Response(
        body=gzip.compress(b"") * 200_000, headers={"Content-Type": "text/html", "Content-Encoding": "gzip"}
    )
    url = site.route("/members", counting([members], hits))
    with pytest.raises(FetchError) as raised:
        await (await fetcher_for()).fetch(url)
    assert raised.value.code == "bad_response" and "cannot be decoded" in raised.value.message
    assert len(hits) == 1


async def test_a_page_fetch_asks_for_the_xml_documents_it_reads_as_pages(site: LocalSite, fetcher_for: Any) -> None:
    """An XML page is read as Chromium reads it, so a server that negotiates may answer one: the fetch's Accept named
    XHTML only, and such a server answered 406."""
    xhtml = b'<html xmlns="http://www.w3.org/1999/xhtml"><body><a href="/next">next</a></body></html>'

    async def negotiating(request: web.Request) -> web.StreamResponse:
        if "application/xml" not in request.headers.get("Accept", ""):
            return web.Response(status=406, text="only application/xml here")
        return web.Response(body=xhtml, content_type="application/xml")

    fetcher = await fetcher_for()
    page = await fetcher.fetch(site.route("/doc", negotiating))
    assert page.body == xhtml


@pytest.fixture
async def listener() -> AsyncIterator[tuple[int, list[object]]]:
    """A port on 127.0.0.1, ::1 and 127.0.0.2 that records every connection made to it (none may be)."""
    accepted: list[object] = []

    async def record(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer.get_extra_info("sockname"))
        writer.close()

    port = free_port()
    servers = [await asyncio.start_server(record, host, port) for host in ("127.0.0.1", "::1", "127.0.0.2")]
    yield port, accepted
    for server in servers:
        server.close()


REFUSED_SPELLINGS = [
    "http://127.0.0.1:{port}/", "http://2130706433:{port}/", "http://0177.0.0.1:{port}/", "http://0x7f.1:{port}/",
    "http://127.1:{port}/", "http://[::ffff:127.0.0.1]:{port}/", "http://[::ffff:7f00:1]:{port}/",
    "http://[::127.0.0.1]:{port}/", "http://[64:ff9b::7f00:1]:{port}/", "http://[2002:7f00:1::]:{port}/",
    "http://0.0.0.0:{port}/", "http://[::]:{port}/", "http://[::1]:{port}/", "http://127.0.0.2:{port}/",
    "http://\uff11\uff12\uff17\u3002\uff10\u3002\uff10\u3002\uff11:{port}/", "http://%31%32%37.0.0.1:{port}/",
    "http://evil.example@127.0.0.1:{port}/", "http://127.0.0.1:{port}\\@evil.example/", "http://127.0.0.1.:{port}/",
    "http://localhost.:{port}/", "http://foo.localhost:{port}/", "HTTP://LOCALHOST:{port}/", "//127.0.0.1:{port}/",
    "http:\\\\127.0.0.1:{port}/", "http://127.0.0.1:0{port}/",
]  # fmt: skip


@pytest.mark.parametrize("spelling", REFUSED_SPELLINGS)
async def test_a_redirect_to_any_spelling_of_a_refused_address_is_blocked_before_connecting(
    site: LocalSite, fetcher_for: Any, listener: tuple[int, list[object]], spelling: str
) -> None:
    # Only the site's own host and port are allowed: every other loopback address and port is refused, however the
    # Location spells it, before any connection is made.
    port, accepted = listener
    url = site.route("/away", lambda _request: _found(spelling.format(port=port)))
    with pytest.raises(FetchError) as refused:
        await (await fetcher_for(retries=0)).fetch(url)
    assert refused.value.code == "blocked", refused.value
    assert accepted == []


async def _found(location: str) -> web.StreamResponse:
    return web.Response(status=302, headers={"Location": location})
