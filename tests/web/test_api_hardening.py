"""Safe to expose: the SSRF guard at the service level, the token, the Origin check, the rate limit, body limits."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import websockets

from tests.support.service import Service, receive_until, terminal_for
from tests.support.site import LocalSite

TOKEN = "s3cret-token"
HANDSHAKE = [
    "-H", "Connection: Upgrade", "-H", "Upgrade: websocket", "-H", "Sec-WebSocket-Version: 13",
    "-H", "Sec-WebSocket-Key: SGVsbG8sIHdvcmxkIQ==",
]  # fmt: skip


@pytest.fixture
async def guarded(tmp_path: Path) -> AsyncIterator[Service]:
    """The service with its default address policy (loopback refused), a token and a tight rate limit."""
    running = Service(
        "--token", TOKEN, "--rate-limit", "1", "--rate-burst", "3", "--max-request-bytes", "1024",
        store="memory://", log_path=tmp_path / "serve.log",
    )  # fmt: skip
    await running.start()
    yield running
    running.stop()


def auth(token: str = TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def curl_handshake(service: Service, *headers: str, query: str = "") -> str:
    """The status line curl gets for a WebSocket handshake (curl keeps the stream open: --max-time ends it)."""
    done = subprocess.run(
        ["curl", "--silent", "--include", "--no-buffer", "--max-time", "1", *HANDSHAKE, *headers,
         f"{service.base_url}/scraped_urls{query}"],
        capture_output=True, timeout=10, check=False,
    )  # fmt: skip
    return done.stdout.decode("latin-1").split("\r\n", 1)[0]


async def test_loopback_targets_are_refused_by_default(tmp_path: Path, site: LocalSite) -> None:
    service = Service(store="memory://", log_path=tmp_path / "serve.log")
    await service.start()
    try:
        # An IP literal in a refused range is refused at submission, in every spelling, and so is a localhost name
        # (loopback by definition, RFC 6761), for a page and for a webhook.
        literals = [site.url("/p"), "http://2130706433/", "http://0x7f.1/", "http://0/", "http://[::1]/"]
        literals += ["http://[::ffff:127.0.0.1]/", "http://169.254.169.254/latest/meta-data/"]
        literals += [f"http://localhost:{site.port}/p", f"http://localhost.:{site.port}/p", "http://app.localhost/"]
        for n, url in enumerate(literals):
            status, body = await service.put(f"lit{n}", url)
            assert (status, body["error"]["code"]) == (400, "blocked"), url
            status, body = await service.call("PUT", f"/webhooks/lit{n}", json={"url": url})
            assert (status, body["error"]["code"]) == (400, "blocked"), url
        # Any other name is refused once resolved: the request ends in an error event with code "blocked"; a
        # webhook, kept to be sent to later, is resolved when it is registered.
        name = loopback_name()
        for path, body in (
            ("/webhooks/name", {"url": f"http://{name}:{site.port}/hook"}),
            ("/urls/name-hook", {"url": "https://example.com/", "webhook": {"url": f"http://{name}/hook"}}),
        ):
            status, answer = await service.call("PUT", path, json=body)
            assert (status, answer["error"]["code"]) == (400, "blocked"), answer
            assert (await service.call("GET", path))[0] == 404
        async with service.connect() as ws:
            status, _ = await service.put("name", f"http://{name}:{site.port}/p")
            assert status == 201
            frames = await receive_until(ws, lambda fs: bool(terminal_for(fs, {"name"})))
        error = terminal_for(frames, {"name"})["name"]
        assert error["type"] == "error" and error["error"]["code"] == "blocked", error
    finally:
        service.stop()


async def test_a_denied_address_and_port_is_never_connected_to_under_another_name(tmp_path: Path) -> None:
    connections: list[str] = []

    async def count(_reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(str(writer.get_extra_info("peername")))
        writer.close()

    # Matched as a host name, the denied 127.0.0.1:<port> was reached as [::ffff:127.0.0.1], localhost or any name
    # resolving to 127.0.0.1: the listener must see no connection at all.
    listener = await asyncio.start_server(count, "127.0.0.1", 0)
    port = listener.sockets[0].getsockname()[1]
    service = Service(
        "--allow-private-networks", "--deny-hosts", f"127.0.0.1:{port}", store="memory://",
        log_path=tmp_path / "serve.log",
    )  # fmt: skip
    await service.start()
    try:
        for n, url in enumerate([f"http://127.0.0.1:{port}/", f"http://[::ffff:127.0.0.1]:{port}/"]):
            status, body = await service.put(f"literal{n}", url)
            assert (status, body["error"]["code"]) == (400, "blocked"), (url, body)
        names = {"localhost": "localhost", "name": loopback_name()}
        async with service.connect() as ws:
            for request_id, name in names.items():
                assert (await service.put(request_id, f"http://{name}:{port}/"))[0] == 201
            frames = await receive_until(ws, lambda fs: len(terminal_for(fs, set(names))) == len(names))
        for request_id, event in terminal_for(frames, set(names)).items():
            assert event["error"]["code"] == "blocked", (request_id, event)
    finally:
        service.stop()
        listener.close()
    assert connections == []


async def test_an_allowed_host_and_port_is_fetched_but_a_redirect_elsewhere_is_blocked(
    tmp_path: Path, site: LocalSite
) -> None:
    page = site.page("/ok", '<a href="/next">next</a>')
    other_port = site.port + 1 if site.port < 65535 else site.port - 1
    hops = {
        "to-name": f"http://localhost:{site.port}/ok",
        "to-port": f"http://127.0.0.1:{other_port}/",
        "to-metadata": "http://169.254.169.254/latest/meta-data/",
    }
    for name, location in hops.items():
        site.route(f"/{name}", _redirect(location))
    service = Service("--allow-hosts", f"127.0.0.1:{site.port}", store="memory://", log_path=tmp_path / "s.log")
    await service.start()
    try:
        async with service.connect() as ws:
            assert (await service.put("page", page))[0] == 201
            for name in hops:
                assert (await service.put(name, site.url(f"/{name}")))[0] == 201
            wanted = {"page", *hops}
            frames = await receive_until(ws, lambda fs: len(terminal_for(fs, wanted)) == len(wanted))
        results = terminal_for(frames, wanted)
        assert results["page"]["links"] == [site.url("/next")]
        for name in hops:
            assert results[name]["error"]["code"] == "blocked", results[name]
    finally:
        service.stop()


def loopback_name() -> str:
    """A name other than localhost that this machine resolves to loopback (its own host name, in most containers)."""
    name = socket.gethostname()
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(name, 80, type=socket.SOCK_STREAM)}
    except OSError:
        addresses = set()
    if not addresses or not all(ipaddress.ip_address(address).is_loopback for address in addresses):
        pytest.skip(f"this machine's name {name!r} does not resolve to loopback only: no name to test with")
    return name


def _redirect(location: str):  # type: ignore[no-untyped-def]
    from aiohttp import web

    async def handler(_request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(location)

    return handler


async def test_token_is_required_on_http_calls_but_not_on_health(guarded: Service) -> None:
    assert (await guarded.call("GET", "/healthz"))[0] == 200
    status, body = await guarded.call("GET", "/urls/x")
    assert (status, body["error"]["code"]) == (401, "unauthorized")
    status, body = await guarded.call("PUT", "/urls/x", json={"url": "https://example.com/"}, headers=auth("wrong"))
    assert status == 401
    assert (await guarded.call("GET", "/urls/x", headers=auth()))[0] == 404
    async with aiohttp.ClientSession() as session, session.get(f"{guarded.base_url}/metrics", headers=auth()) as r:
        assert r.status == 200


async def test_token_is_required_on_the_websocket_by_header_or_query(guarded: Service) -> None:
    with pytest.raises(websockets.InvalidStatus) as refused:
        async with guarded.connect():
            pass
    assert refused.value.response.status_code == 401
    async with guarded.connect(additional_headers=auth()) as ws:
        await ws.ping()
    async with guarded.connect(f"token={TOKEN}") as ws:
        await ws.ping()


async def test_submissions_past_the_rate_limit_get_429_with_retry_after(guarded: Service) -> None:
    # The URL is refused (loopback literal) after the rate limit is counted: no fetch is started by this test.
    statuses = []
    async with aiohttp.ClientSession(headers=auth()) as session:
        for n in range(5):
            async with session.put(f"{guarded.base_url}/urls/r{n}", json={"url": "http://127.0.0.1/"}) as r:
                statuses.append(r.status)
                if r.status == 429:
                    assert int(r.headers["Retry-After"]) >= 1
                    assert (await r.json())["error"]["code"] == "rate_limited"
    assert statuses[:3] == [400, 400, 400]
    assert 429 in statuses[3:]


async def test_oversized_and_non_json_bodies_are_refused_with_json_errors(guarded: Service) -> None:
    big = {"url": "https://example.com/?" + "a" * 2000}
    status, body = await guarded.call("PUT", "/urls/big", json=big, headers=auth())
    assert (status, body["error"]["code"]) == (413, "payload_too_large"), body
    assert "1024 bytes" in body["error"]["message"], body  # the limit it went over
    status, body = await guarded.call(
        "PUT", "/urls/x", data="url=https://example.com/", headers={**auth(), "Content-Type": "text/plain"}
    )
    assert (status, body["error"]["code"]) == (415, "unsupported_media_type")


async def test_chunked_oversized_body_is_refused(guarded: Service) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"url": "https://example.com/?'
        for _ in range(64):
            yield b"a" * 1024
        yield b'"}'

    status, body = await guarded.call("PUT", "/urls/chunked", data=chunks(), headers=auth())
    assert (status, body["error"]["code"]) == (413, "payload_too_large"), body
    assert "1024 bytes" in body["error"]["message"], body  # the limit it went over


async def test_websocket_origin_must_be_this_host(service: Service) -> None:
    assert curl_handshake(service).startswith("HTTP/1.1 101")
    # The prototype's curl recipe: Host localhost, Origin on another port of localhost.
    recipe = curl_handshake(service, "-H", "Host: localhost", "-H", "Origin: http://localhost:8080")
    assert recipe.startswith("HTTP/1.1 101"), recipe
    assert curl_handshake(service, "-H", "Origin: http://127.0.0.1:9").startswith("HTTP/1.1 101")
    for origin in ("http://evil.example", "null", "http://localhost.evil.example", "http://[::1", "http://[x]"):
        status_line = curl_handshake(service, "-H", "Host: localhost", "-H", f"Origin: {origin}")
        assert status_line.startswith("HTTP/1.1 403"), (origin, status_line)


async def test_allowed_origins_admit_listed_sites(tmp_path: Path) -> None:
    service = Service("--allowed-origins", "https://app.example", store="memory://", log_path=tmp_path / "serve.log")
    await service.start()
    try:
        assert curl_handshake(service, "-H", "Origin: https://app.example").startswith("HTTP/1.1 101")
        assert curl_handshake(service, "-H", "Origin: https://other.example").startswith("HTTP/1.1 403")
    finally:
        service.stop()


async def test_pages_that_point_their_own_name_at_the_server_are_refused(service: Service) -> None:
    """DNS rebinding: a page on evil.example, whose name now resolves to this server, sends Host: evil.example."""
    unreachable = {"url": "http://127.0.0.1:9/"}
    rebound = f"evil.example:{service.port}"
    status, body = await service.call("PUT", "/urls/rebound", json=unreachable, headers={"Host": rebound})
    assert (status, body["error"]["code"]) == (400, "unknown_host"), body
    assert "--server-names evil.example" in body["error"]["message"]
    status, body = await service.call("GET", "/healthz", headers={"Host": rebound})
    assert (status, body["error"]["code"]) == (400, "unknown_host"), body
    handshake = curl_handshake(service, "-H", f"Host: {rebound}", "-H", f"Origin: http://{rebound}")
    assert handshake.startswith("HTTP/1.1 400"), handshake
    status, _ = await service.call("GET", "/urls/rebound")
    assert status == 404  # nothing was submitted
    # The server's own names: addresses, localhost and the names under it (browsers resolve those themselves).
    for n, host in enumerate(("localhost", f"LocalHost:{service.port}", "app.localhost", "127.0.0.1", "[::1]:80")):
        status, body = await service.call("PUT", f"/urls/own{n}", json=unreachable, headers={"Host": host})
        assert status == 201, (host, body)


async def test_server_names_admit_listed_names(tmp_path: Path) -> None:
    named = Service("--server-names", "linkcast.example, *.corp.example", store="memory://",
                    log_path=tmp_path / "named.log")  # fmt: skip
    await named.start()
    try:
        for host, expected in (("linkcast.example", 200), ("LINKCAST.example:443", 200), ("api.corp.example", 200),
                               ("corp.example", 400), ("evil.example", 400)):  # fmt: skip
            status, body = await named.call("GET", "/healthz", headers={"Host": host})
            assert status == expected, (host, body)
        assert curl_handshake(named, "-H", "Host: api.corp.example").startswith("HTTP/1.1 101")
    finally:
        named.stop()


async def test_cross_site_submissions_are_refused(service: Service) -> None:
    """A page on another site may send a form post without asking first; its Origin gives it away."""
    unreachable = {"url": "http://127.0.0.1:9/"}
    status, body = await service.call("PUT", "/urls/xs1", json=unreachable, headers={"Origin": "http://evil.example"})
    assert (status, body["error"]["code"]) == (403, "forbidden_origin"), body
    form_post = {"Origin": "http://evil.example", "Content-Type": "application/x-www-form-urlencoded"}
    status, body = await service.call("POST", "/urls", data=json.dumps(unreachable), headers=form_post)
    assert (status, body["error"]["code"]) == (403, "forbidden_origin"), body
    # An Origin that does not even parse (urlsplit raises on it) is refused the same way, not a 500.
    for garbled in ("http://[::1", "https://[127.0.0.1]"):
        status, body = await service.call("PUT", "/urls/xs1", json=unreachable, headers={"Origin": garbled})
        assert (status, body["error"]["code"]) == (403, "forbidden_origin"), (garbled, body)
    status, _ = await service.call("GET", "/urls/xs1")
    assert status == 404
    # A page of this host (any port) and a client with no Origin (curl, scripts) submit as before.
    status, body = await service.call("PUT", "/urls/xs2", json=unreachable, headers={"Origin": "http://127.0.0.1:3000"})
    assert status == 201, body
    curl_post = {"Content-Type": "application/x-www-form-urlencoded"}  # curl -d, no Origin
    status, body = await service.call("POST", "/urls", data=json.dumps(unreachable), headers=curl_post)
    assert status == 201, body


@pytest.mark.parametrize(
    ("host", "server_names", "allowed"),
    [
        ("localhost:8080", "", True),
        ("app.localhost", "", True),
        ("127.0.0.1:8080", "", True),
        ("[::1]:8080", "", True),
        ("", "", True),  # no Host at all: not a browser
        ("evil.example", "", False),
        ("localhost.evil.example", "", False),
        ("localhost:notaport", "", False),
        ("[::1", "", False),
        ("evil.example", "*", True),
        ("linkcast.example:8080", "linkcast.example", True),
        ("linkcast.example:8080", "linkcast.example:443", False),
        ("a.b.corp.example", "*.corp.example", True),
    ],
)
def test_host_policy(host: str, server_names: str, allowed: bool) -> None:
    from linkcast.settings import Settings
    from linkcast.web.guard import Guard

    assert Guard(Settings(server_names=server_names)).host_ok(host) is allowed


async def test_unreadable_host_headers_get_a_json_error(service: Service) -> None:
    for host in ("[::1", "localhost:port"):
        status, body = await service.call("GET", "/healthz", headers={"Host": host})
        assert (status, body["error"]["code"]) == (400, "unknown_host"), (host, body)
        assert "names no host" in body["error"]["message"]


async def test_a_token_admits_any_host_name_and_an_unreadable_one_is_no_error(tmp_path: Path) -> None:
    tokened = Service("--token", TOKEN, store="memory://", log_path=tmp_path / "serve.log")
    await tokened.start()
    try:
        status, body = await tokened.call("GET", "/urls/none", headers={**auth(), "Host": "evil.example"})
        assert (status, body["error"]["code"]) == (404, "not_found"), body
        # The Origin check reads the Host too: an unreadable one matches no Origin, and is a 403, never a 500.
        garbled = {**auth(), "Host": "[::1", "Origin": "http://evil.example"}
        status, body = await tokened.call("PUT", "/urls/x", json={"url": "https://example.com/"}, headers=garbled)
        assert (status, body["error"]["code"]) == (403, "forbidden_origin"), body
    finally:
        tokened.stop()


async def test_rate_limit_counts_each_client_behind_a_trusted_proxy(tmp_path: Path) -> None:
    """Behind a reverse proxy every client arrives from the proxy's address; its X-Forwarded-For names them."""
    flags = ("--rate-limit", "0.01", "--rate-burst", "1", "--workers", "0")
    submission = {"url": "https://example.com/"}

    async def statuses(service: Service) -> list[int]:
        answers = []
        for n, client in enumerate(("203.0.113.1", "203.0.113.1", "203.0.113.2")):
            status, _ = await service.call("PUT", f"/urls/p{n}", json=submission, headers={"X-Forwarded-For": client})
            answers.append(status)
        return answers

    behind = Service(*flags, "--trusted-proxies", "127.0.0.1", store="memory://", log_path=tmp_path / "behind.log")
    await behind.start()
    try:
        assert await statuses(behind) == [201, 429, 201]  # a bucket per client
    finally:
        behind.stop()
    # Not from a trusted proxy: the header is anyone's claim, so the connection's own address counts.
    direct = Service(*flags, store="memory://", log_path=tmp_path / "direct.log")
    await direct.start()
    try:
        assert await statuses(direct) == [201, 429, 429]
    finally:
        direct.stop()


async def test_oversized_websocket_message_closes_the_connection(service: Service) -> None:
    async with service.connect() as ws:
        await ws.send("x" * (1024 * 1024))
        async with asyncio.timeout(10):
            with pytest.raises(websockets.ConnectionClosed) as closed:
                while True:
                    await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


def test_token_bucket_allows_a_burst_then_the_rate() -> None:
    from linkcast.web.guard import TokenBucket

    bucket = TokenBucket(rate=2.0, burst=3)
    assert [bucket.take("a", now=0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take("a", now=0.0) == pytest.approx(0.5)
    assert bucket.take("b", now=0.0) == 0.0  # per client
    assert bucket.take("a", now=0.5) == 0.0  # refilled at 2 a second
    assert bucket.take("a", now=0.5) > 0


def test_token_bucket_takes_a_count_over_the_burst_when_full_and_keeps_the_rate() -> None:
    from linkcast.web.guard import TokenBucket

    bucket = TokenBucket(rate=2.0, burst=3)
    assert bucket.take("a", 5, now=0.0) == 0.0  # full: taken, 2 owed
    assert bucket.take("a", now=0.0) == pytest.approx(1.5)  # the 2 owed, then 1: 3 tokens at 2 a second
    assert bucket.take("a", now=1.5) == 0.0
    assert bucket.take("b", 2, now=0.0) == 0.0
    assert bucket.take("b", 5, now=0.0) == pytest.approx(1.0)  # not full (1 of 3): until it is, 2 at 2 a second
    assert bucket.take("b", 5, now=1.0) == 0.0


def test_submissions_are_counted_per_client_an_ipv6_one_by_its_64() -> None:
    from linkcast.core.errors import RateLimited
    from linkcast.settings import Settings
    from linkcast.web.guard import Guard

    guard = Guard(Settings(rate_limit=1.0, rate_burst=2))
    guard.limit_submission("2001:db8:1:2::1", 2)
    with pytest.raises(RateLimited):
        guard.limit_submission("2001:db8:1:2:ffff::9")  # another address of the same /64
    with pytest.raises(RateLimited):
        guard.limit_submission("2001:db8:1:2:0:0:0:1")  # the first address, spelt out
    guard.limit_submission("2001:db8:1:3::1", 2)  # the next /64: another client
    guard.limit_submission("::ffff:192.0.2.7", 2)
    with pytest.raises(RateLimited):
        guard.limit_submission("192.0.2.7")  # the IPv4-mapped spelling is the same client
    guard.limit_submission("192.0.2.8", 2)


@pytest.mark.parametrize(
    ("origin", "host", "allowed"),
    [
        (None, "localhost:8080", True),
        ("http://localhost:8080", "localhost", True),
        ("https://LOCALHOST", "localhost:9000", True),
        ("http://[::1]:3000", "[::1]:8080", True),
        ("http://localhost.evil.example", "localhost", False),
        ("http://evil.example", "localhost", False),
        ("null", "localhost", False),
        ("file://localhost", "localhost", False),
        ("http://localhost", "", False),
    ],
)
def test_default_origin_policy_is_same_host_name(origin: str | None, host: str, allowed: bool) -> None:
    from linkcast.settings import Settings
    from linkcast.web.guard import Guard

    assert Guard(Settings()).origin_ok(origin, host) is allowed
    assert Guard(Settings(allowed_origins="*")).origin_ok(origin, host) is True
