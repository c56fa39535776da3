"""The prototype's curl recipe works unchanged against linkcast."""

from __future__ import annotations

import asyncio
import shutil

import aiohttp

from tests.support.service import Service
from tests.support.site import LocalSite
from tests.support.strict import require

# The prototype README's handshake, byte for byte (only the port differs).
CURL_HEADERS = [
    "-H", "Connection: Upgrade",
    "-H", "Upgrade: websocket",
    "-H", "Host: localhost",
    "-H", "Origin: http://localhost:8080",
    "-H", "Sec-WebSocket-Key: SGVsbG8sIHdvcmxkIQ==",
    "-H", "Sec-WebSocket-Version: 13",
]  # fmt: skip


async def read_until(stream: asyncio.StreamReader, needle: bytes, timeout: float = 30.0) -> bytes:
    seen = b""
    async with asyncio.timeout(timeout):
        while needle not in seen:
            chunk = await stream.read(65536)
            if not chunk:
                break
            seen += chunk
    return seen


async def wait_for_clients(service: Service, count: int, timeout: float = 30.0) -> None:
    async with asyncio.timeout(timeout):
        while True:
            async with aiohttp.ClientSession() as session, session.get(service.base_url + "/metrics") as response:
                if f"linkcast_websocket_clients {float(count)}" in await response.text():
                    return
            await asyncio.sleep(0.05)


async def test_prototype_curl_recipe_receives_the_result_frame(service: Service, site: LocalSite) -> None:
    require(shutil.which("curl") is not None, "curl is not installed")
    url = site.page("/curled", '<a href="/from-curl">c</a>')
    curl = await asyncio.create_subprocess_exec(
        "curl", "--include", "--no-buffer", "--silent", *CURL_HEADERS, f"http://127.0.0.1:{service.port}/scraped_urls",
        stdout=asyncio.subprocess.PIPE,
    )  # fmt: skip
    try:
        assert curl.stdout is not None
        # curl prints the 101 head only with the first frame, so wait until the server counts the client instead.
        await wait_for_clients(service, 1)
        status, _ = await service.put("curl1", url)
        assert status == 201
        head = await read_until(curl.stdout, b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 101"), head
        headers = dict(
            line.split(": ", 1) for line in head.split(b"\r\n\r\n")[0].decode().split("\r\n")[1:] if ": " in line
        )
        assert {k.lower(): v for k, v in headers.items()}["sec-websocket-accept"] == "qGEgH3En71di5rrssAZTmtRTyFk="
        frames = await read_until(curl.stdout, b'"type":"result"')
        result = frames[frames.rindex(b'{"id"', 0, frames.index(b'"type":"result"')) :]
        assert result.startswith(b'{"id":') and b'"request_id":"curl1"' in result
        assert b'"links":["' + site.url("/from-curl").encode() + b'"]' in result
    finally:
        curl.kill()
        await curl.wait()
