"""No secret in any log line: the token, right or wrong, in ``?token=`` or in ``Authorization``, on accepted and
refused handshakes and HTTP calls, and in requests the server refuses before the app sees them. And the request log:
one line per request, without the query string."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

import pytest
import websockets

from tests.support.raw_http import RawClient
from tests.support.service import Service

HANDSHAKE = (
    b"Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n"
    b"Sec-WebSocket-Key: SGVsbG8sIHdvcmxkIQ==\r\n"
)


async def raw(service: Service, data: bytes) -> RawClient:
    """Send ``data`` on a new connection and wait for the server to end it."""
    client = await RawClient.open(service.port)
    try:
        await client.send(data)
        await client.wait_closed(10)
    finally:
        client.close()
    return client


async def ws_status(service: Service, query: str = "", token: str | None = None) -> int:
    """The handshake's status: 101 if accepted."""
    headers = {"Authorization": f"Bearer {token}"} if token else None
    try:
        async with service.connect(query, additional_headers=headers) as ws:
            await asyncio.wait_for(ws.ping(), 5)
            return 101
    except websockets.InvalidStatus as refused:
        return refused.response.status_code


@pytest.mark.parametrize("parser", ["httptools", "h11"])
async def test_no_token_appears_in_any_log_line_at_debug_level(tmp_path: Path, parser: str) -> None:
    token, guess = f"s3cr3t-{secrets.token_hex(8)}", f"guess-{secrets.token_hex(8)}"
    log_path = tmp_path / "serve.log"
    service = Service(
        "--token", token, "--log-level", "debug", "--header-timeout", "1", "--max-request-header-bytes", "4096",
        store="memory://", env={"LINKCAST_HTTP_PARSER": parser}, log_path=log_path,
    )  # fmt: skip
    await service.start()
    try:
        for secret in (token, guess):
            for query in ("", f"?token={secret}"):
                status, _ = await service.call("GET", f"/urls/r1{query}", headers={"Authorization": f"Bearer {secret}"})
                assert status == (404 if secret == token else 401)
            assert await ws_status(service, f"token={secret}") == (101 if secret == token else 401)
            assert await ws_status(service, token=secret) == (101 if secret == token else 401)
            assert await ws_status(service, f"since=0&token={secret}", token=secret) in (101, 401)
            request = f"GET /scraped_urls?token={secret} HTTP/1.1\r\nHost: 127.0.0.1\r\n".encode()
            auth = f"Authorization: Bearer {secret}\r\n".encode()
            # Refused before the app sees them: too large, too slow, malformed.
            assert (await raw(service, request + auth + b"X-Fill: " + b"a" * 8000 + b"\r\n\r\n")).status() == 431
            assert (await raw(service, request + auth + HANDSHAKE)).status() == 408
            assert (await raw(service, request + auth + b"Bad Header\x01: " + secret.encode() + b"\r\n\r\n")).status()
        status, _ = await service.call(
            "PUT", f"/urls/r2?token={token}", data=b"{", headers={"Authorization": f"Bearer {token}"}
        )
        assert status == 415
    finally:
        service.stop()
    log = log_path.read_text(errors="replace")
    assert token not in log and guess not in log
    assert 'INFO linkcast.access: 127.0.0.1 "GET /urls/r1" 404' in log
    assert 'INFO linkcast.access: 127.0.0.1 "WebSocket /scraped_urls" 101' in log
    assert 'INFO linkcast.access: 127.0.0.1 "WebSocket /scraped_urls" 401' in log
    assert "WebSocket /scraped_urls?" not in log


async def test_each_request_is_logged_once_with_method_path_status_and_duration(tmp_path: Path) -> None:
    log_path = tmp_path / "serve.log"
    service = Service("--log-level", "info", store="memory://", log_path=log_path)
    await service.start()
    try:
        await service.call("GET", "/healthz?probe=1")
        await service.put("one", "http://example.invalid/")
        await service.call("GET", "/urls/nothing-here")
        async with service.connect("since=0"):
            pass
    finally:
        service.stop()
    lines = [line.split("linkcast.access: ", 1)[1] for line in log_path.read_text().splitlines() if "access:" in line]
    requests = [line.rsplit(" ", 2)[0] for line in lines]
    assert requests[-4:] == [
        '127.0.0.1 "GET /healthz" 200',
        '127.0.0.1 "PUT /urls/one" 201',
        '127.0.0.1 "GET /urls/nothing-here" 404',
        '127.0.0.1 "WebSocket /scraped_urls" 101',
    ], lines
    assert all(line.endswith(" ms") and float(line.rsplit(" ", 2)[1]) >= 0 for line in lines)
