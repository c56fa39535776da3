"""Fetching any resource (robots.txt, sitemaps) and the redirect hook, against local sites on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import zlib
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from linkcast.core.errors import Blocked, FetchError, LinkcastError
from linkcast.fetch import Fetcher
from linkcast.fetch.budget import not_counted
from linkcast.settings import Settings
from tests.support.ports import free_port
from tests.support.site import LocalSite


@pytest.fixture
async def fetcher_for(site: LocalSite) -> AsyncIterator[Any]:
    """Make fetchers allowed to reach only the local site, closed at the end."""
    made: list[Fetcher] = []

    async def make(**changes: Any) -> Fetcher:
        fetcher = Fetcher(Settings(allow_hosts=f"127.0.0.1:{site.port}", **changes))
        await fetcher.open()
        made.append(fetcher)
        return fetcher

    yield make
    for fetcher in made:
        await fetcher.close()


@pytest.fixture
async def other_site() -> AsyncIterator[LocalSite]:
    """A second local site, which the fetchers above are not allowed to reach."""
    local = LocalSite()
    await local.start()
    yield local
    await local.stop()


def redirect(to: str, status: int = 302) -> Any:
    async def handler(_request: web.Request) -> web.StreamResponse:
        return web.Response(status=status, headers={"Location": to})

    return handler


@pytest.mark.parametrize("status", [200, 401, 403, 404, 410, 500, 502])
async def test_any_status_is_returned_with_its_headers_and_body(site: LocalSite, fetcher_for: Any, status: int) -> None:
    url = site.page("/robots.txt", "User-agent: *\n", content_type="text/plain; charset=utf-8", status=status)
    resource = await (await fetcher_for()).fetch_resource(url, max_bytes=1024)
    assert (resource.status_code, resource.body, resource.truncated) == (status, b"User-agent: *\n", False)
    assert resource.content_type == "text/plain" and resource.headers["content-type"].startswith("text/plain")
    assert resource.url == resource.final_url == url


async def test_a_page_fetch_still_refuses_what_is_not_html(site: LocalSite, fetcher_for: Any) -> None:
    url = site.page("/robots.txt", "User-agent: *\n", content_type="text/plain")
    with pytest.raises(FetchError) as raised:
        await (await fetcher_for()).fetch(url)
    assert raised.value.code == "not_html"


@pytest.mark.parametrize("content_type", ["text/xml", "application/xml; charset=utf-8", "image/svg+xml"])
async def test_a_page_served_as_xml_is_a_page(site: LocalSite, fetcher_for: Any, content_type: str) -> None:
    # Chromium renders these as XML documents, whose XHTML <a> are links (the xml-* link cases hold its answers).
    body = '<html xmlns="http://www.w3.org/1999/xhtml"><a href="/a">a</a></html>'
    url = site.page("/page.xml", body, content_type=content_type)
    page = await (await fetcher_for()).fetch(url)
    assert page.body == body.encode() and page.content_type == content_type


async def test_the_accept_header_is_the_callers(site: LocalSite, fetcher_for: Any) -> None:
    seen: list[str | None] = []

    async def echo(request: web.Request) -> web.StreamResponse:
        seen.append(request.headers.get("Accept"))
        return web.Response(text="x")

    url = site.route("/accept", echo)
    fetcher = await fetcher_for()
    await fetcher.fetch_resource(url, max_bytes=10, accept="text/plain")
    await fetcher.fetch_resource(url, max_bytes=10)
    assert seen == ["text/plain", "*/*"]


async def test_a_body_past_max_bytes_is_too_large_or_cut_there(site: LocalSite, fetcher_for: Any) -> None:
    url = site.page("/big", b"x" * 5000, content_type="text/plain")
    exact = site.page("/exact", b"y" * 1000, content_type="text/plain")
    fetcher = await fetcher_for()
    with pytest.raises(FetchError) as raised:
        await fetcher.fetch_resource(url, max_bytes=1000)
    assert raised.value.code == "too_large"
    cut = await fetcher.fetch_resource(url, max_bytes=1000, truncate=True)
    assert cut.body == b"x" * 1000 and cut.truncated
    whole = await fetcher.fetch_resource(exact, max_bytes=1000, truncate=True)
    assert whole.body == b"y" * 1000 and not whole.truncated


async def test_max_bytes_never_exceeds_the_max_body_bytes_setting(site: LocalSite, fetcher_for: Any) -> None:
    url = site.page("/big", b"x" * 5000, content_type="text/plain")
    resource = await (await fetcher_for(max_body_bytes=2000)).fetch_resource(url, max_bytes=10**9, truncate=True)
    assert len(resource.body) == 2000 and resource.truncated


async def test_a_compressed_bomb_is_cut_at_max_bytes_after_decompression(site: LocalSite, fetcher_for: Any) -> None:
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    bomb = b"".join(compressor.compress(bytes(1 << 20)) for _ in range(64)) + compressor.flush()  # 64 MiB of zeros
    headers = {"Content-Type": "application/xml", "Content-Encoding": "gzip"}

    async def handler(_request: web.Request) -> web.StreamResponse:
        return web.Response(body=bomb, headers=headers)

    url = site.route("/sitemap.xml", handler)
    resource = await (await fetcher_for()).fetch_resource(url, max_bytes=1 << 20, truncate=True)
    assert len(resource.body) == 1 << 20 and resource.truncated and len(bomb) < 1 << 20


async def test_a_gzip_file_without_content_encoding_arrives_as_it_was_sent(site: LocalSite, fetcher_for: Any) -> None:
    packed = gzip.compress(b"https://example.com/\n")
    url = site.page("/sitemap.txt.gz", packed, content_type="application/gzip")
    resource = await (await fetcher_for()).fetch_resource(url, max_bytes=1024)
    assert resource.body == packed


async def test_redirects_are_followed_up_to_the_callers_limit(site: LocalSite, fetcher_for: Any) -> None:
    for hop in range(6):
        site.route(f"/r{hop}", redirect(f"/r{hop + 1}", status=(301, 302, 303, 307, 308)[hop % 5]))
    site.page("/r6", "User-agent: *\n", content_type="text/plain")
    fetcher = await fetcher_for()
    resource = await fetcher.fetch_resource(site.url("/r1"), max_bytes=100, max_redirects=5)
    assert resource.final_url == site.url("/r6") and resource.status_code == 200
    with pytest.raises(FetchError) as raised:
        await fetcher.fetch_resource(site.url("/r0"), max_bytes=100, max_redirects=5)
    assert raised.value.code == "too_many_redirects"


async def test_a_503_is_retried_then_returned(site: LocalSite, fetcher_for: Any) -> None:
    hits = 0

    async def busy(_request: web.Request) -> web.StreamResponse:
        nonlocal hits
        hits += 1
        return web.Response(status=503, text="later", headers={"Retry-After": "0"})

    url = site.route("/busy", busy)
    resource = await (await fetcher_for(retries=2)).fetch_resource(url, max_bytes=100)
    assert resource.status_code == 503 and resource.body == b"later" and hits == 3


async def test_no_answer_at_all_is_still_an_error() -> None:
    port = free_port()  # nothing listens there
    fetcher = Fetcher(Settings(allow_hosts=f"127.0.0.1:{port}", retries=0))
    await fetcher.open()
    try:
        with pytest.raises(FetchError) as raised:
            await fetcher.fetch_resource(f"http://127.0.0.1:{port}/robots.txt", max_bytes=100)
    finally:
        await fetcher.close()
    assert raised.value.code == "connect"


async def test_every_hop_passes_the_address_policy(site: LocalSite, other_site: LocalSite, fetcher_for: Any) -> None:
    reached: list[str] = []

    async def record(request: web.Request) -> web.StreamResponse:
        reached.append(request.path)
        return web.Response(text="secret")

    target = other_site.route("/secret", record)
    site.route("/robots.txt", redirect(target))
    site.route("/metadata", redirect("http://169.254.169.254/latest/meta-data/"))
    fetcher = await fetcher_for()
    for path in ("/robots.txt", "/metadata"):
        with pytest.raises(Blocked):
            await fetcher.fetch_resource(site.url(path), max_bytes=100)
    with pytest.raises(Blocked):
        await fetcher.fetch(site.url("/robots.txt"))
    assert reached == []


async def test_the_redirect_hook_sees_each_target_before_it_is_requested(site: LocalSite, fetcher_for: Any) -> None:
    log: list[str] = []

    def logging_redirect(to: str) -> Any:
        async def handler(request: web.Request) -> web.StreamResponse:
            log.append(f"request {request.path}")
            return web.Response(status=302, headers={"Location": to})

        return handler

    async def page(request: web.Request) -> web.StreamResponse:
        log.append(f"request {request.path}")
        return web.Response(text="<a href=x>", content_type="text/html")

    site.route("/a", logging_redirect("/b"))
    site.route("/b", logging_redirect(site.url("/c")))
    site.route("/c", page)

    async def hook(target: str) -> None:
        log.append(f"hook {target.removeprefix(site.origin)}")

    fetcher = await fetcher_for()
    page_result = await fetcher.fetch(site.url("/a"), before_redirect=hook)
    assert page_result.final_url == site.url("/c")
    assert log == ["request /a", "hook /b", "request /b", "hook /c", "request /c"]
    log.clear()
    await fetcher.fetch_resource(site.url("/a"), max_bytes=100, before_redirect=hook)
    assert log == ["request /a", "hook /b", "request /b", "hook /c", "request /c"]


class AlreadyVisited(LinkcastError):
    code = "already_visited"


async def test_an_error_from_the_redirect_hook_ends_the_fetch_unrequested(site: LocalSite, fetcher_for: Any) -> None:
    requested: list[str] = []

    async def record(request: web.Request) -> web.StreamResponse:
        requested.append(request.path)
        return web.Response(text="<p>", content_type="text/html")

    site.route("/start", redirect("/visited"))
    site.route("/visited", record)

    async def refuse(target: str) -> None:
        raise AlreadyVisited(f"{target} was fetched already")

    fetcher = await fetcher_for()
    with pytest.raises(AlreadyVisited):
        await fetcher.fetch(site.url("/start"), before_redirect=refuse)
    with pytest.raises(AlreadyVisited):
        await fetcher.fetch_resource(site.url("/start"), max_bytes=100, before_redirect=refuse)
    assert requested == []


async def test_a_retry_after_a_redirect_retries_that_hop_and_calls_the_hook_once(
    site: LocalSite, fetcher_for: Any
) -> None:
    hits: list[str] = []

    async def flaky(request: web.Request) -> web.StreamResponse:
        hits.append(request.path)
        if len(hits) == 1:
            return web.Response(status=503, headers={"Retry-After": "0"})
        return web.Response(text="<p>", content_type="text/html")

    site.route("/from", redirect("/to"))
    site.route("/to", flaky)
    targets: list[str] = []

    async def hook(target: str) -> None:
        targets.append(target)

    page = await (await fetcher_for(retries=2)).fetch(site.url("/from"), before_redirect=hook)
    assert page.status_code == 200 and hits == ["/to", "/to"] and targets == [site.url("/to")]


async def test_a_wait_the_redirect_hook_does_not_count_is_not_the_fetch_s_but_what_follows_it_is_bounded(
    site: LocalSite, fetcher_for: Any
) -> None:
    """A hook that waits longer than the whole fetch may take, outside its count (a crawl's Crawl-delay turn before a
    hop), leaves the fetch its time; the hop after it has what the fetch had left: a page that never ends is a
    timeout. The same wait counted (anything else a hook does: a hop's robots.txt) ends the fetch."""
    release = asyncio.Event()

    async def trickle(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        await response.prepare(request)
        with contextlib.suppress(ConnectionError):
            while not release.is_set():  # a byte every 50 ms: never a read timeout, never an end
                await response.write(b" ")
                await asyncio.sleep(0.05)
        return response

    site.route("/a", redirect("/b"))
    site.route("/b", redirect("/c"))
    url = site.page("/c", "<a href=x>")
    site.route("/x", redirect("/stall"))
    site.route("/stall", trickle)

    async def polite(_target: str) -> None:
        async with not_counted():
            await asyncio.sleep(0.4)

    async def slow(_target: str) -> None:
        await asyncio.sleep(0.4)

    fetcher = await fetcher_for(fetch_timeout=0.5, read_timeout=5.0)
    try:
        assert (await fetcher.fetch(site.url("/a"), before_redirect=polite)).final_url == url
        async with asyncio.timeout(10):
            for hook, start in ((polite, "/x"), (slow, "/a")):
                with pytest.raises(FetchError) as raised:
                    await fetcher.fetch(site.url(start), before_redirect=hook)
                assert raised.value.code == "timeout" and "within 0.5 s" in raised.value.message
    finally:
        release.set()


@pytest.fixture
async def raw_answer() -> AsyncIterator[Any]:
    """A loopback server that answers every request with the bytes it is given (aiohttp's own server refuses to send
    a header with a control character), and records each request's head."""
    answers: list[bytes] = []
    heads: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        heads.append(await reader.readuntil(b"\r\n\r\n"))
        writer.write(answers[0])
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}/", answers, heads
    server.close()
    await server.wait_closed()


@pytest.mark.parametrize("etag", [b'"a\x01b"', b'"a\x7fb"', b'"\xe9\xff"'])
async def test_a_header_value_that_is_no_text_is_taken_as_not_sent_and_never_sent(raw_answer: Any, etag: bytes) -> None:
    """A control character, or bytes that are not UTF-8 (aiohttp gives them as lone surrogates): kept, such an ETag
    could not be stored (SQLite, JSON) or could not be sent back (aiohttp raises ValueError), and a feed whose server
    sent one once was never polled again."""
    url, answers, heads = raw_answer
    answers.append(b"HTTP/1.1 200 OK\r\nETag: " + etag + b'\r\nX-Fine: "v1"\r\nContent-Length: 2\r\n\r\nok')
    fetcher = Fetcher(Settings(allow_private_networks=True))
    await fetcher.open()
    try:
        resource = await fetcher.fetch_resource(url, max_bytes=1024, retry=False)
        assert "ETag" not in resource.headers and resource.headers["X-Fine"] == '"v1"' and resource.body == b"ok"
        kept = etag.decode("utf-8", "surrogateescape")  # as an older release kept it
        again = await fetcher.fetch_resource(url, max_bytes=1024, retry=False, headers={"If-None-Match": kept})
        assert again.status_code == 200 and b"if-none-match" not in heads[-1].lower()
    finally:
        await fetcher.close()
