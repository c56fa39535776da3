"""``--server`` naming something that is not linkcast: a web server answering pages or JSON of its own. Each command
says so in its one line (``not_linkcast``) instead of a status that means nothing there or an internal error."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from linkcast.cli.report import EXIT_FAILED, EXIT_UNAVAILABLE
from tests.support.cli import error_line, run_cli
from tests.support.site import LocalSite


class OtherServer(LocalSite):
    """Answers every path: a JSON list under /json, an HTML page anywhere else."""

    async def _dispatch(self, request: web.Request) -> web.StreamResponse:
        if request.path.startswith("/json/"):
            return web.json_response([1, 2, 3])
        return web.Response(text="<html><body>It works!</body></html>", content_type="text/html")


@pytest.fixture
async def other_server() -> AsyncIterator[LocalSite]:
    site = OtherServer()
    await site.start()
    yield site
    await site.stop()


async def test_json_that_is_no_object_is_named_not_linkcast_not_an_internal_error(other_server: LocalSite) -> None:
    for command in (["feeds", "list"], ["feeds", "rm", "x"], ["crawl", "--cancel", "x"]):
        done = await run_cli(*command, "--server", other_server.url("/json"))
        message = error_line(done, "not_linkcast", EXIT_FAILED)
        assert message.endswith("is not a JSON object: is --server a linkcast server?"), message


async def test_a_page_where_the_stream_should_be_is_named_not_linkcast(other_server: LocalSite) -> None:
    done = await run_cli("watch", "--server", other_server.origin)
    assert error_line(done, "not_linkcast", EXIT_FAILED) == (
        f"{other_server.origin} answered the stream's handshake with 200 OK, not a WebSocket: "
        "is --server a linkcast server?"
    )
    # submit's PUT and stream both hear another server: whichever says so first, it is not linkcast
    done = await run_cli("submit", "https://example.com/", "--server", other_server.origin)
    assert error_line(done, "not_linkcast", EXIT_FAILED).endswith("is --server a linkcast server?")


async def test_an_export_that_is_not_opml_is_neither_printed_nor_written(
    other_server: LocalSite, tmp_path: Path
) -> None:
    done = await run_cli("feeds", "export", "--server", other_server.origin)
    message = error_line(done, "not_linkcast", EXIT_FAILED)
    assert (
        message
        == f"the answer to GET {other_server.url('/feeds/export.opml')} is not OPML: is --server a linkcast server?"
    )
    assert done.stdout == b""
    written = tmp_path / "feeds.opml"
    done = await run_cli("feeds", "export", "-o", str(written), "--server", other_server.origin)
    error_line(done, "not_linkcast", EXIT_FAILED)
    assert not written.exists()


@pytest.fixture
async def dropping_server() -> AsyncIterator[str]:
    """A port that takes connections: under /close it closes each at once, anywhere else it answers in SSH."""

    async def drop(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await reader.readline()
        if b" /close/" not in head:
            writer.write(b"SSH-2.0-OpenSSH_9.6\r\n")
        writer.close()

    server = await asyncio.start_server(drop, "127.0.0.1", 0)
    yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    server.close()
    await server.wait_closed()


async def test_a_port_that_drops_every_connection_is_unreachable_at_once(dropping_server: str) -> None:
    """It never answers, so retrying for CALL_TIMEOUT (60 s) changes nothing: one line, exit 3, no retries."""
    for command in (["feeds", "list"], ["feeds", "add", "https://example.com/"], ["crawl", "--cancel", "x"]):
        closing = await run_cli(*command, "--server", f"{dropping_server}/close", timeout=30)
        message = error_line(closing, "unreachable", EXIT_UNAVAILABLE)
        assert message.startswith(f"{dropping_server}/close closed the connection without answering ("), message
        assert message.endswith("is --server a linkcast server?")
        ssh = await run_cli(*command, "--server", dropping_server, timeout=30)
        message = error_line(ssh, "unreachable", EXIT_UNAVAILABLE)
        assert message == f"{dropping_server} did not answer in HTTP: is --server a linkcast server?"


@pytest.fixture
async def http10_server() -> AsyncIterator[str]:
    """A web server that answers in HTTP/1.0, as ``python -m http.server`` does: a 404 page for the stream's path."""

    async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.0 404 File not found\r\nContent-Type: text/html\r\n\r\n<html>Not found</html>")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(answer, "127.0.0.1", 0)
    yield f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    server.close()
    await server.wait_closed()


async def test_a_page_in_http_1_0_where_the_stream_should_be_is_named_not_linkcast(http10_server: str) -> None:
    """It answers in HTTP, so the port is not wrong, the server is: not "unreachable" (exit 3), as it was."""
    done = await run_cli("watch", "--server", http10_server)
    assert error_line(done, "not_linkcast", EXIT_FAILED) == (
        f"{http10_server} answered the stream's handshake with HTTP/1.0 404 File not found, not a WebSocket: "
        "is --server a linkcast server?"
    )
