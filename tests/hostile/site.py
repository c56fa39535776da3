"""A hostile site on loopback: every way a server can try to exhaust, stall or trick a fetcher.

``HostileSite.cases`` maps each attack to its URL and the outcome linkcast must give it (an error code, or
``"result"``). The site serves on one port; a second, raw TCP port accepts connections and never answers.
Used by tests/hostile and by bench/bench_hostile.py.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import zlib
from dataclasses import dataclass

import brotli
from aiohttp import web

from tests.support.ports import free_port
from tests.support.site import LocalSite

CHUNK = 64 * 1024
BOMB_BYTES = 256 * 1024 * 1024
MANY_LINKS = 200_000
NESTED_DIVS = 100_000
# A 20,000-character <base href> copied into each of 20,000 relative links: a 300 KB page, a 400 MB list of links.
LONG_BASE_CHARS = 20_000
LONG_BASE_LINKS = 20_000


@dataclass(frozen=True)
class Case:
    url: str
    expect: str  # an error code, or "result"


@functools.cache
def gzip_bomb() -> bytes:
    """256 MiB of zeros, gzipped to about 250 KiB."""
    compressor = zlib.compressobj(1, zlib.DEFLATED, 31)
    block = bytes(1 << 20)
    return b"".join(compressor.compress(block) for _ in range(BOMB_BYTES >> 20)) + compressor.flush()


@functools.cache
def brotli_bomb() -> bytes:
    compressor = brotli.Compressor(quality=5)
    block = bytes(1 << 20)
    return b"".join(compressor.process(block) for _ in range(BOMB_BYTES >> 20)) + compressor.finish()


async def _stream(request: web.Request, content_type: str, total: int | None, chunk: bytes) -> web.StreamResponse:
    """Send ``chunk`` again and again (``total`` bytes, or forever) until the client goes away."""
    response = web.StreamResponse(headers={"Content-Type": content_type})
    if total is not None:
        response.content_length = total
    await response.prepare(request)
    sent = 0
    with contextlib.suppress(ConnectionError):
        while total is None or sent < total:
            await response.write(chunk)
            sent += len(chunk)
    return response


async def endless(request: web.Request) -> web.StreamResponse:
    return await _stream(request, "text/html", None, b"<p>" + b"a" * (CHUNK - 3))


async def huge(request: web.Request) -> web.StreamResponse:
    return await _stream(request, "text/html", 200 * 1024 * 1024, b"b" * CHUNK)


async def octet(request: web.Request) -> web.StreamResponse:
    return await _stream(request, "application/octet-stream", 50 * 1024 * 1024, b"\0" * CHUNK)


def bomb(encoding: str):  # type: ignore[no-untyped-def]
    """A handler answering a decompression bomb: small on the wire, 256 MiB once inflated."""

    async def handler(_request: web.Request) -> web.StreamResponse:
        body = brotli_bomb() if encoding == "br" else gzip_bomb()
        return web.Response(body=body, headers={"Content-Type": "text/html", "Content-Encoding": encoding})

    return handler


async def trickle(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/html"})
    await response.prepare(request)
    with contextlib.suppress(ConnectionError):
        while True:
            await response.write(b"<")
            await asyncio.sleep(1.0)  # the attack itself: one byte a second
    return response


async def reset_mid_body(request: web.Request) -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": "text/html"})
    response.content_length = 1024 * 1024
    await response.prepare(request)
    await response.write(b"<a href='/x'>x</a>" + b" " * CHUNK)
    assert request.transport is not None
    request.transport.abort()
    return response


async def header_bomb(_request: web.Request) -> web.StreamResponse:
    return web.Response(text="<p>", content_type="text/html", headers={"X-Filler": "f" * (256 * 1024)})


def redirect(location: str) -> web.Response:
    return web.Response(status=302, headers={"Location": location})


class HostileSite(LocalSite):
    """The local site plus every attack; ``silent_port`` is a raw TCP server that accepts and never answers."""

    def __init__(self) -> None:
        super().__init__()
        self.silent_port = free_port()
        self._silent: asyncio.Server | None = None
        self._held: list[asyncio.StreamWriter] = []
        self.cases: dict[str, Case] = {}

    async def start(self) -> None:
        self._build()
        await super().start()
        self._silent = await asyncio.start_server(self._hold, "127.0.0.1", self.silent_port)
        await asyncio.to_thread(gzip_bomb)  # built before any timing starts
        await asyncio.to_thread(brotli_bomb)

    async def stop(self) -> None:
        if self._silent is not None:
            self._silent.close()
            for writer in self._held:
                writer.close()
        await super().stop()

    async def _hold(self, _reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._held.append(writer)  # keep the connection open, say nothing

    def _add(self, name: str, expect: str, handler: object) -> None:
        path = f"/{name}"
        self.route(path, handler)  # type: ignore[arg-type]
        self.cases[name] = Case(self.url(path), expect)

    def _build(self) -> None:
        origin = self.origin
        self._add("endless", "too_large", endless)
        self._add("huge", "too_large", huge)
        self._add("gzip-bomb", "too_large", bomb("gzip"))
        self._add("br-bomb", "too_large", bomb("br"))
        self._add("trickle", "timeout", trickle)
        self._add("octet-stream", "not_html", octet)
        self._add("reset", "connection_reset", reset_mid_body)
        self._add("header-bomb", "headers_too_large", header_bomb)
        self._add("loop-a", "redirect_loop", _fixed(redirect(f"{origin}/loop-b")))
        self.route("/loop-b", _fixed(redirect(f"{origin}/loop-a")))
        for n in range(30):
            self.route(f"/chain/{n}", _fixed(redirect(f"{origin}/chain/{n + 1}")))
        self.page("/chain/30", "<a href='/end'>end</a>")
        self.cases["chain-30"] = Case(self.url("/chain/0"), "too_many_redirects")
        # localhost resolves to loopback: refused unless allowed (the service allows only 127.0.0.1:<port>).
        self._add("to-refused", "blocked", _fixed(redirect(f"http://localhost:{self.port}/plain")))
        self._add("to-metadata", "blocked", _fixed(redirect("http://169.254.169.254/latest/meta-data/")))
        self.page("/invalid-utf8", b"<meta charset=utf-8><a href='/\xff\xfe'>\xc3\x28</a><a href='/ok'>ok</a>")
        self.cases["invalid-utf8"] = Case(self.url("/invalid-utf8"), "result")
        links = "".join(f"<a href='/l{n}'>{n}</a>" for n in range(MANY_LINKS))
        self.page("/many-links", links)
        self.cases["many-links"] = Case(self.url("/many-links"), "result")
        # Tree building is quadratic in depth: 100,000 levels would take about a minute, past the parse deadline.
        self.page("/nested", "<div>" * NESTED_DIVS + "<a href='/deep'>deep</a>" + "</div>" * NESTED_DIVS)
        self.cases["nested"] = Case(self.url("/nested"), "too_complex")
        self.page("/nested-5k", "<div>" * 5000 + "<a href='/deep'>deep</a>" + "</div>" * 5000)
        self.cases["nested-5k"] = Case(self.url("/nested-5k"), "result")
        long_base = f"<base href='/{'b' * LONG_BASE_CHARS}/'>" + "".join(
            f"<a href=x{n}>.</a>" for n in range(LONG_BASE_LINKS)
        )
        self.page("/long-base", long_base)
        self.cases["long-base"] = Case(self.url("/long-base"), "result")
        self.page("/404", "gone", status=404)
        self.cases["404"] = Case(self.url("/404"), "http_status")
        self.page("/500", "oops", status=500)
        self.cases["500"] = Case(self.url("/500"), "http_status")
        self.cases["silent"] = Case(f"http://127.0.0.1:{self.silent_port}/", "timeout")
        self.page("/plain", "<a href='/ok'>ok</a>")


def _fixed(response: web.Response):  # type: ignore[no-untyped-def]
    async def handler(_request: web.Request) -> web.StreamResponse:
        return web.Response(status=response.status, headers=response.headers)

    return handler
